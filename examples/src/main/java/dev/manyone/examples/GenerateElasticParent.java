package dev.manyone.examples;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.router.Budget;
import dev.manyone.router.ElasticMetadata;
import dev.manyone.router.ElasticParentGenerator;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Writes the README's example elastic parent: the {@code example} preset with random BF16 weights plus elastic
 * metadata (budgets {@code small}, {@code medium}, {@code full}; a router whose choices are known by construction).
 * Byte-identical for the same seed.
 *
 * <pre>java -cp ... dev.manyone.examples.GenerateElasticParent target/elastic-parent [preset] [seed]</pre>
 */
public final class GenerateElasticParent {
    private GenerateElasticParent() {
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "target/elastic-parent");
        NemotronHConfig config = Presets.load(args.length > 1 ? args[1] : "example");
        long seed = args.length > 2 ? Long.parseLong(args[2]) : 20261123L;
        ElasticMetadata m = ElasticParentGenerator.write(config,
                ElasticParentGenerator.example(ModelDescription.of(config)), seed, out, true);
        System.out.printf("wrote %s: %,d parameters, budgets", out, ModelDescription.of(config).params().total());
        for (Budget b : m.budgets()) {
            System.out.printf(" %s (%,d)", b.name(), Math.round(b.params()));
        }
        System.out.println();
    }
}
