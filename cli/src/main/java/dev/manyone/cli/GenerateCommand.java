package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.router.ElasticParentGenerator;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Write a Nemotron-H checkpoint with random BF16 weights (for tests and benchmarks).",
            "",
            "The same config, seed and shard size always give the same bytes. Presets: tiny (the golden",
            "tiny-hybrid shape), example (the README's parent), nano-v2-9b and nano-v2-12b (the published",
            "Nemotron Nano V2 shapes: 17.8 GB and 24.6 GB), moe-example (a small Nemotron 3 style MoE parent:",
            "16 experts, top-2) and nemotron-3-nano-30b-a3b. The output directory appears only when complete.",
            "",
            "Examples:",
            "  manyone generate --preset example --elastic -o parent     (with budgets and a router)",
            "  manyone generate --preset moe-example --elastic -o moe    (MoE: experts, expert FFN, shared",
            "                                                            FFN and k are router axes too)",
            "  manyone generate --preset nano-v2-12b -o /data/nano-12b"})
final class GenerateCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--preset", paramLabel = "NAME", description = "A named shape: tiny, example, nano-v2-9b, nano-v2-12b, moe-example, nemotron-3-nano-30b-a3b.")
        String preset;

        @Option(names = "--config", paramLabel = "FILE", description = "A Nemotron-H config.json to generate weights for.")
        Path config;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output checkpoint directory.")
    Path output;

    @Option(names = "--seed", defaultValue = "20261123", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--shard-size", defaultValue = "5GB", paramLabel = "SIZE",
            description = "Largest shard, e.g. 5GB (the Hugging Face default) or 512MiB (default ${DEFAULT-VALUE}).")
    String shardSize;

    @Option(names = "--threads", defaultValue = "0", description = "Worker threads; 0 means one per core.")
    int threads;

    @Option(names = "--elastic", description = "Also write elastic metadata (elastic.json + elastic.safetensors): budgets "
            + "small, medium and full, rankings (for MoE presets also of experts and their neurons), and a router whose choices are known by construction (docs/elastic-format.md).")
    boolean elastic;

    @Option(names = "--force", description = "Replace the output directory if it exists.")
    boolean force;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        NemotronHConfig config = source.preset != null ? Presets.load(source.preset) : NemotronHConfig.read(source.config);
        long shardBytes = Units.parseBytes(shardSize, "--shard-size");
        int workers = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        long start = System.nanoTime();
        if (elastic) {
            ElasticParentGenerator.write(config, ElasticParentGenerator.example(ModelDescription.of(config)), seed, output, force);
        } else {
            new ModelGenerator(config, seed, shardBytes, workers)
                    .write(output, force, ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long params = ModelDescription.of(config).params().total();
        if (json) {
            ObjectNode o = Json.object();
            o.put("output", output.toString());
            o.put("params", params);
            o.put("seed", seed);
            o.put("seconds", Math.round(seconds * 1000) / 1000.0);
            spec.commandLine().getOut().println(Json.write(o));
        } else {
            spec.commandLine().getOut().printf("wrote %s: %,d parameters (%s), BF16, seed %d, in %.1f s%n",
                    output, params, Units.count(params), seed, seconds);
        }
        return Main.OK;
    }
}
