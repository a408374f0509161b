package dev.manyone.router;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Adversarial elastic metadata: every case is a FormatException that names the file and the field or tensor. */
class BadMetadataTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    ModelDescription parent;

    @BeforeEach
    void valid() throws IOException {
        parent = Parents.tinyModel();
        ElasticMetadata m = ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent), 1);
        ElasticFiles.write(dir, m, parent);
        ElasticFiles.read(dir, parent); // valid to start with
    }

    private void json(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode o = (ObjectNode) JSON.readTree(dir.resolve(ElasticFiles.JSON).toFile());
        edit.accept(o);
        Files.writeString(dir.resolve(ElasticFiles.JSON), JSON.writeValueAsString(o));
    }

    private void tensors(Consumer<Map<String, TensorSurgery.Tensor>> edit) throws IOException {
        TensorSurgery.edit(dir.resolve(ElasticFiles.SAFETENSORS), edit);
    }

    private void refused(String file, String... mustContain) {
        FormatException e = assertThrows(FormatException.class, () -> ElasticFiles.read(dir, parent));
        String msg = e.getMessage();
        assertTrue(msg.contains(dir.resolve(file).toString()), "names the file: " + msg);
        for (String s : mustContain) {
            assertTrue(msg.contains(s), "expected '" + s + "' in: " + msg);
        }
    }

    private static ObjectNode axes(ObjectNode o) {
        return (ObjectNode) o.get("axes");
    }

    @Test
    void formatVersion() throws IOException {
        json(o -> o.put("format_version", 2));
        refused(ElasticFiles.JSON, "'format_version'", "expected 1", "found 2");
    }

    @Test
    void missingFormatVersion() throws IOException {
        json(o -> o.remove("format_version"));
        refused(ElasticFiles.JSON, "'format_version'", "missing");
    }

    @Test
    void unknownField() throws IOException {
        json(o -> o.put("routers", 1));
        refused(ElasticFiles.JSON, "'routers'", "unknown field");
    }

    @Test
    void notJson() throws IOException {
        Files.writeString(dir.resolve(ElasticFiles.JSON), "{\"format_version\": 1,");
        refused(ElasticFiles.JSON, "not valid JSON");
    }

    @Test
    void duplicateBudgetNames() throws IOException {
        json(o -> ((ObjectNode) o.get("budgets").get(1)).put("name", "small"));
        refused(ElasticFiles.JSON, "'budgets[1].name'", "'small'", "unique");
    }

    @Test
    void blankBudgetName() throws IOException {
        json(o -> ((ObjectNode) o.get("budgets").get(0)).put("name", " "));
        refused(ElasticFiles.JSON, "'budgets[0].name'", "non-blank");
    }

    @Test
    void nonPositiveTarget() throws IOException {
        json(o -> ((ObjectNode) o.get("budgets").get(2)).put("params", -5));
        refused(ElasticFiles.JSON, "'budgets[2].params'", "positive");
    }

    @Test
    void routerWithoutBudgets() throws IOException {
        json(o -> o.putArray("budgets"));
        refused(ElasticFiles.JSON, "'budgets'", "at least one budget");
    }

    @Test
    void unknownAxis() throws IOException {
        json(o -> axes(o).putArray("widgets").add(4));
        refused(ElasticFiles.JSON, "'axes.widgets'", "unknown axis");
    }

    @Test
    void moeAxisOnDenseParent() throws IOException {
        json(o -> axes(o).putArray("experts").add(4));
        refused(ElasticFiles.JSON, "'axes.experts'", "the parent has no MoE layer");
    }

    @Test
    void choicesNotAscending() throws IOException {
        json(o -> axes(o).putArray("hidden").add(48).add(40).add(64));
        refused(ElasticFiles.JSON, "'axes.hidden[1]'", "strictly ascending");
    }

    @Test
    void repeatedChoice() throws IOException {
        json(o -> axes(o).putArray("depth").add(8).add(8));
        refused(ElasticFiles.JSON, "'axes.depth[1]'", "strictly ascending");
    }

    @Test
    void emptyChoices() throws IOException {
        json(o -> axes(o).putArray("depth"));
        refused(ElasticFiles.JSON, "'axes.depth'", "non-empty");
    }

    @Test
    void widerThanParent() throws IOException {
        json(o -> ((ArrayNode) axes(o).get("mamba_head_dim")).add(32));
        refused(ElasticFiles.JSON, "'axes.mamba_head_dim[3]'", "32", "parent's 16");
    }

    @Test
    void deeperThanParent() throws IOException {
        json(o -> ((ArrayNode) axes(o).get("depth")).add(11));
        refused(ElasticFiles.JSON, "'axes.depth[3]'", "parent's 10");
    }

    @Test
    void mambaHeadsNotMultipleOfGroups() throws IOException {
        json(o -> axes(o).putArray("mamba_heads").add(3).add(8));
        refused(ElasticFiles.JSON, "'axes.mamba_heads[0]'", "multiple of 2", "n_groups");
    }

    @Test
    void attentionHeadsNotMultipleOfKvHeads() throws IOException {
        json(o -> axes(o).putArray("attention_heads").add(3).add(4));
        refused(ElasticFiles.JSON, "'axes.attention_heads[0]'", "multiple of 2", "KV heads");
    }

    @Test
    void perLayerChoicesOnALayerOfAnotherKind() throws IOException {
        json(o -> ((ObjectNode) axes(o).get("ffn")).putArray("0").add(96));
        refused(ElasticFiles.JSON, "'axes.ffn.0'", "Mamba2", "mlp layers");
    }

    @Test
    void perLayerChoicesOnAMissingLayer() throws IOException {
        json(o -> ((ObjectNode) axes(o).get("ffn")).putArray("99").add(96));
        refused(ElasticFiles.JSON, "'axes.ffn'", "'99' does not exist");
    }

    @Test
    void perLayerListForHidden() throws IOException {
        json(o -> axes(o).putObject("hidden").putArray("0").add(32));
        refused(ElasticFiles.JSON, "'axes.hidden'", "expected an array");
    }

    @Test
    void routerInputSize() throws IOException {
        json(o -> ((ObjectNode) o.get("router")).put("input_size", 4));
        refused(ElasticFiles.JSON, "'router.input_size'", "expected 3", "found 4");
    }

    @Test
    void routerOutputsDisagreeWithChoices() throws IOException {
        json(o -> ((ObjectNode) o.get("router").get("outputs")).put("hidden", 5));
        refused(ElasticFiles.JSON, "'router.outputs.hidden'", "expected 4");
    }

    @Test
    void routerMissingAnAxis() throws IOException {
        json(o -> ((ObjectNode) o.get("router").get("outputs")).remove("depth"));
        refused(ElasticFiles.JSON, "'router.outputs'", "depth");
    }

    @Test
    void negativeSlope() throws IOException {
        json(o -> ((ObjectNode) o.get("router")).put("leaky_relu_slope", -0.1));
        refused(ElasticFiles.JSON, "'router.leaky_relu_slope'");
    }

    @Test
    void missingSafetensors() throws IOException {
        Files.delete(dir.resolve(ElasticFiles.SAFETENSORS));
        refused(ElasticFiles.SAFETENSORS, "missing");
    }

    @Test
    void missingJson() throws IOException {
        Files.delete(dir.resolve(ElasticFiles.JSON));
        refused(ElasticFiles.JSON, "missing");
    }

    @Test
    void rankingNotAPermutation() throws IOException {
        tensors(t -> {
            int[] h = TensorSurgery.intsOf(t.get("rankings.hidden"));
            h[5] = h[6];
            t.put("rankings.hidden", TensorSurgery.ints(h));
        });
        refused(ElasticFiles.SAFETENSORS, "rankings.hidden", "appears twice");
    }

    @Test
    void rankingOutOfRange() throws IOException {
        tensors(t -> {
            int[] h = TensorSurgery.intsOf(t.get("rankings.layers"));
            h[0] = 10;
            t.put("rankings.layers", TensorSurgery.ints(h));
        });
        refused(ElasticFiles.SAFETENSORS, "rankings.layers", "0..9", "found 10");
    }

    @Test
    void rankingWrongLength() throws IOException {
        tensors(t -> t.put("rankings.per_layer.1.ffn", TensorSurgery.ints(0, 1, 2)));
        refused(ElasticFiles.SAFETENSORS, "rankings.per_layer.1.ffn", "expected shape [192]", "[3]");
    }

    @Test
    void rankingAsFloats() throws IOException {
        tensors(t -> t.put("rankings.layers", TensorSurgery.floats(new long[] {10}, new float[10])));
        refused(ElasticFiles.SAFETENSORS, "rankings.layers", "I32", "F32");
    }

    @Test
    void rankingForAFieldOfAnotherKind() throws IOException {
        tensors(t -> t.put("rankings.per_layer.0.ffn", TensorSurgery.ints(0, 1)));
        refused(ElasticFiles.SAFETENSORS, "rankings.per_layer.0.ffn", "kind");
    }

    @Test
    void missingRankings() throws IOException {
        tensors(t -> t.remove("rankings.hidden"));
        refused(ElasticFiles.SAFETENSORS, "rankings.hidden", "missing");
    }

    @Test
    void unknownTensor() throws IOException {
        tensors(t -> t.put("experts.router", TensorSurgery.ints(0)));
        refused(ElasticFiles.SAFETENSORS, "experts.router", "unknown tensor");
    }

    @Test
    void routerWeightTransposed() throws IOException {
        tensors(t -> {
            TensorSurgery.Tensor w = t.get("router.hidden.fc1.weight");
            t.put("router.hidden.fc1.weight", new TensorSurgery.Tensor(w.dtype(), new long[] {w.shape()[1], w.shape()[0]}, w.bytes()));
        });
        refused(ElasticFiles.SAFETENSORS, "router.hidden.fc1.weight", "expected shape [256, 3]", "[3, 256]");
    }

    @Test
    void routerWeightNotFinite() throws IOException {
        tensors(t -> {
            float[] b = TensorSurgery.floatsOf(t.get("router.ffn.fc2.bias"));
            b[2] = Float.NaN;
            t.put("router.ffn.fc2.bias", TensorSurgery.floats(new long[] {b.length}, b));
        });
        refused(ElasticFiles.SAFETENSORS, "router.ffn.fc2.bias", "finite");
    }

    @Test
    void routerWeightMissing() throws IOException {
        tensors(t -> t.remove("router.depth.fc2.weight"));
        refused(ElasticFiles.SAFETENSORS, "router.depth.fc2.weight", "missing");
    }

    @Test
    void routerWeightsWithoutRouterInJson() throws IOException {
        json(o -> o.remove("router"));
        refused(ElasticFiles.SAFETENSORS, "router.", "has no 'router'");
    }

    @Test
    void routerWeightInHalfPrecision() throws IOException {
        tensors(t -> {
            TensorSurgery.Tensor b = t.get("router.depth.fc1.bias");
            t.put("router.depth.fc1.bias", new TensorSurgery.Tensor(DType.I32, b.shape(), b.bytes()));
        });
        refused(ElasticFiles.SAFETENSORS, "router.depth.fc1.bias", "F32");
    }

    @Test
    void scoresDisagreeWithRanking() throws IOException {
        tensors(t -> {
            int[] r = TensorSurgery.intsOf(t.get("rankings.hidden"));
            float[] s = TensorSurgery.floatsOf(t.get("scores.hidden"));
            float top = s[r[0]];
            s[r[0]] = s[r[1]];
            s[r[1]] = top;
            t.put("scores.hidden", TensorSurgery.floats(new long[] {s.length}, s));
        });
        refused(ElasticFiles.SAFETENSORS, "scores.hidden", "disagree");
    }

    @Test
    void negativeScore() throws IOException {
        tensors(t -> {
            float[] s = TensorSurgery.floatsOf(t.get("scores.layers"));
            int[] r = TensorSurgery.intsOf(t.get("rankings.layers"));
            s[r[9]] = -1;
            t.put("scores.layers", TensorSurgery.floats(new long[] {s.length}, s));
        });
        refused(ElasticFiles.SAFETENSORS, "scores.layers", ">= 0");
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path f = dir.resolve(ElasticFiles.SAFETENSORS);
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 100));
        refused(ElasticFiles.SAFETENSORS);
    }
}
