package dev.manyone.elastic.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.JsonFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The deployment contract written next to an exported model as {@code genai_config.json}: the layout of ONNX
 * Runtime GenAI's file (model.decoder inputs/outputs with %d name templates, eos ids, context length, search
 * defaults), plus a {@code manyone} section listing every state tensor with its layer, shape and dtype, which
 * manyone's own generation loop reads. ONNX Runtime GenAI cannot yet bind a model that mixes KV caches with Mamba
 * state; the file is kept close to its schema so the model is ready when it can.
 *
 * @param states one per state input, in graph order
 */
public record DeploymentConfig(String onnxFile, int vocab, List<Integer> eosTokenIds, List<State> states,
                               String mamba, String weights) {
    public static final String FILE = "genai_config.json";
    public static final int FORMAT_VERSION = 1;

    /**
     * One carried state tensor. Dimensions are numbers or the symbols {@code batch} and {@code past_seq} (the
     * tokens seen so far; 0 at the start).
     */
    public record State(String past, String present, int layer, String kind, List<Object> shape) {

        /** The concrete shape for a batch and a past length. */
        public long[] shape(int batch, long pastSeq) {
            long[] out = new long[shape.size()];
            for (int d = 0; d < out.length; d++) {
                Object v = shape.get(d);
                out[d] = v instanceof Number num ? num.longValue() : "batch".equals(v) ? batch : pastSeq;
            }
            return out;
        }
    }

    public static DeploymentConfig of(ModelDescription model, String onnxFile, ExportOptions options) {
        List<State> states = new ArrayList<>();
        int kv = model.kvHeads();
        int hd = model.headDim();
        for (LayerSpec l : model.layers()) {
            int i = l.index();
            switch (l.kind()) {
                case ATTENTION -> {
                    List<Object> shape = List.of("batch", kv, "past_seq", hd);
                    states.add(new State(StateNames.pastKey(i), StateNames.present(StateNames.pastKey(i)), i, "key", shape));
                    states.add(new State(StateNames.pastValue(i), StateNames.present(StateNames.pastValue(i)), i, "value", shape));
                }
                case MAMBA -> {
                    int convDim = l.dInner() + 2 * model.nGroups() * model.ssmState();
                    states.add(new State(StateNames.pastConv(i), StateNames.present(StateNames.pastConv(i)), i, "conv_state",
                            List.of("batch", convDim, model.convKernel() - 1)));
                    states.add(new State(StateNames.pastRecurrent(i), StateNames.present(StateNames.pastRecurrent(i)), i,
                            "recurrent_state", List.of("batch", l.mambaHeads(), model.ssmState(), l.mambaHeadDim())));
                }
                case MLP, MOE -> {
                    // stateless
                }
            }
        }
        return new DeploymentConfig(onnxFile, model.vocab(), model.config().eosTokenIds(), List.copyOf(states),
                options.mamba().name().toLowerCase(), options.weights().name().toLowerCase());
    }

    public String toJson(ModelDescription model) {
        NemotronHConfig c = model.config();
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        ObjectNode m = root.putObject("model");
        m.put("type", "nemotron_h");
        copyInt(c.json(), m, "bos_token_id");
        ArrayNode eos = m.putArray("eos_token_id");
        eosTokenIds.forEach(eos::add);
        copyInt(c.json(), m, "pad_token_id");
        m.put("context_length", c.json().path("max_position_embeddings").asInt(4096));
        m.put("vocab_size", vocab);
        ObjectNode d = m.putObject("decoder");
        d.put("filename", onnxFile);
        d.put("head_size", model.headDim());
        d.put("hidden_size", model.hidden());
        d.put("num_attention_heads", c.numAttentionHeads());
        d.put("num_key_value_heads", model.kvHeads());
        d.put("num_hidden_layers", model.layers().size());
        ObjectNode in = d.putObject("inputs");
        in.put("input_ids", StateNames.INPUT_IDS);
        in.put("past_key_names", "past_key_values.%d.key");
        in.put("past_value_names", "past_key_values.%d.value");
        in.put("past_conv_names", "past_key_values.%d.conv_state");
        in.put("past_recurrent_names", "past_key_values.%d.recurrent_state");
        ObjectNode out = d.putObject("outputs");
        out.put("logits", StateNames.LOGITS);
        out.put("present_key_names", "present.%d.key");
        out.put("present_value_names", "present.%d.value");
        out.put("present_conv_names", "present.%d.conv_state");
        out.put("present_recurrent_names", "present.%d.recurrent_state");
        ObjectNode search = root.putObject("search");
        search.put("do_sample", false);
        search.put("max_length", c.json().path("max_position_embeddings").asInt(4096));
        search.put("num_beams", 1);
        search.put("past_present_share_buffer", false);
        ObjectNode own = root.putObject("manyone");
        own.put("format_version", FORMAT_VERSION);
        own.put("mamba", mamba);
        own.put("weights", weights);
        own.put("state_dtype", "float32");
        own.put("logits_dtype", "float32");
        ArrayNode st = own.putArray("state");
        for (State s : states) {
            ObjectNode o = st.addObject();
            o.put("past", s.past());
            o.put("present", s.present());
            o.put("layer", s.layer());
            o.put("kind", s.kind());
            ArrayNode shape = o.putArray("shape");
            for (Object v : s.shape()) {
                if (v instanceof Number num) {
                    shape.add(num.longValue());
                } else {
                    shape.add(v.toString());
                }
            }
        }
        try {
            return mapper.writeValueAsString(root) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void copyInt(JsonNode from, ObjectNode to, String field) {
        if (from.has(field) && from.get(field).isIntegralNumber()) {
            to.put(field, from.get(field).asInt());
        }
    }

    /** Reads the contract of an exported model directory. */
    public static DeploymentConfig read(Path dir) {
        Path file = dir.resolve(FILE);
        JsonNode root = JsonFiles.read(file, "deployment config");
        JsonNode own = root.path("manyone");
        if (!own.isObject() || own.path("format_version").asInt(-1) != FORMAT_VERSION) {
            throw new FormatException(file, "expected a manyone export (\"manyone\": {\"format_version\": " + FORMAT_VERSION
                    + "}), found " + (own.isObject() ? "format_version " + own.path("format_version") : "no manyone section"));
        }
        JsonNode model = root.path("model");
        String onnx = model.path("decoder").path("filename").asText("");
        if (onnx.isEmpty() || onnx.contains("/") || onnx.contains("\\") || onnx.contains("..")) {
            throw new FormatException(file, "model.decoder.filename: expected a plain file name, found '" + onnx + "'");
        }
        List<Integer> eos = new ArrayList<>();
        model.path("eos_token_id").forEach(n -> eos.add(n.asInt()));
        List<State> states = new ArrayList<>();
        for (JsonNode s : own.path("state")) {
            List<Object> shape = new ArrayList<>();
            for (JsonNode v : s.path("shape")) {
                if (v.isIntegralNumber()) {
                    shape.add(v.asLong());
                } else if (v.isTextual() && (v.asText().equals("batch") || v.asText().equals("past_seq"))) {
                    shape.add(v.asText());
                } else {
                    throw new FormatException(file, "state " + s.path("past").asText() + ": expected dims that are numbers, "
                            + "\"batch\" or \"past_seq\", found " + v);
                }
            }
            states.add(new State(s.path("past").asText(), s.path("present").asText(), s.path("layer").asInt(),
                    s.path("kind").asText(), List.copyOf(shape)));
        }
        return new DeploymentConfig(onnx, model.path("vocab_size").asInt(), List.copyOf(eos), List.copyOf(states),
                own.path("mamba").asText(), own.path("weights").asText());
    }
}
