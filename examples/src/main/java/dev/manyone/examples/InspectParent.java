package dev.manyone.examples;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;

import java.nio.file.Path;

/**
 * Uses the library API (not the CLI) to open a checkpoint, check it against its config and print the exact
 * parameter count per layer.
 *
 * <pre>java -cp ... dev.manyone.examples.InspectParent target/example-parent</pre>
 */
public final class InspectParent {
    private InspectParent() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args.length > 0 ? args[0] : "target/example-parent");
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            ModelDescription model = checkpoint.model();
            model.check(checkpoint.tensors()); // throws FormatException listing every problem
            var params = model.params();
            for (LayerSpec layer : model.layers()) {
                System.out.printf("layer %2d %-9s %,12d%n", layer.index(), layer.kind().blockType(),
                        params.perLayer().get(layer.index()));
            }
            System.out.printf("total %,d parameters%n", params.total());
        }
    }
}
