package dev.manyone.formats.onnx;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The operators manyone emits, with their signatures: a hand-written registry (no reflection, no native schema
 * library) that {@link GraphBuilder} checks every node against when it is added, so a malformed node fails the
 * export at build time rather than when ONNX Runtime loads the file.
 *
 * <p>Each entry is valid for an inclusive range of operator-set versions of its domain. The ai.onnx entries
 * follow the ONNX operator specification (https://onnx.ai/onnx/operators/, {@code onnx/defs/**}): formal inputs and
 * outputs in order, where "Optional" parameters may be omitted ({@code ""} in {@code NodeProto.input}, or left off at
 * the end) and a "Variadic" last parameter takes one or more values; attributes with their AttributeProto type and
 * whether they are required. Revisions that only widened type constraints are merged into one range. The ranges
 * cover ai.onnx opsets {@value #MIN_AI_ONNX}..{@value #MAX_AI_ONNX}; 26 is the highest ONNX Runtime 1.29 accepts
 * ("Current official support for domain ai.onnx is till opset 26").
 *
 * <p>The com.microsoft entries (version 1) are ONNX Runtime contrib operators
 * (onnxruntime {@code core/graph/contrib_ops/bert_defs.cc}, docs/ContribOperators.md) as registered in
 * ONNX Runtime 1.29.0; only those with CPU kernels in that release are listed.
 *
 * <p>Type constraints and shapes are not checked here.
 */
public final class OpSchemas {
    /** The ai.onnx domain as written in NodeProto.domain and OperatorSetIdProto.domain. */
    public static final String AI_ONNX = "";
    /** The ONNX Runtime contrib domain. */
    public static final String MICROSOFT = "com.microsoft";
    /** Lowest ai.onnx opset the registry covers. */
    public static final int MIN_AI_ONNX = 17;
    /** Highest ai.onnx opset the registry covers (the highest ONNX Runtime 1.29 loads by default). */
    public static final int MAX_AI_ONNX = 26;
    /** The one com.microsoft operator-set version. */
    public static final int MICROSOFT_VERSION = 1;

    /** One formal input or output. {@code optional}: may be omitted; {@code variadic}: last, takes 1..n values. */
    public record Param(String name, boolean optional, boolean variadic) {
        @Override
        public String toString() {
            return name + (variadic ? "..." : optional ? "?" : "");
        }
    }

    /** One attribute the operator accepts. */
    public record AttrSpec(String name, AttrType type, boolean required) {
    }

    /**
     * An operator signature, valid for {@code domain} versions {@code fromVersion..toVersion} (inclusive).
     * {@code attributes} is keyed by name in declaration order.
     */
    public record OpSchema(String domain, String opType, int fromVersion, int toVersion, List<Param> inputs,
                           List<Param> outputs, Map<String, AttrSpec> attributes) {

        /** Fewest inputs (through the last required one). */
        public int minInputs() {
            return minCount(inputs);
        }

        /** Most inputs; Integer.MAX_VALUE when the last one is variadic. */
        public int maxInputs() {
            return maxCount(inputs);
        }

        public int minOutputs() {
            return minCount(outputs);
        }

        public int maxOutputs() {
            return maxCount(outputs);
        }

        /** The formal parameter that actual input {@code index} binds to (the variadic one for the tail). */
        public Param input(int index) {
            return param(inputs, index);
        }

        public Param output(int index) {
            return param(outputs, index);
        }

        /** "ai.onnx::Name-v23..26" style label for messages. */
        public String label() {
            return (domain.isEmpty() ? "ai.onnx" : domain) + "::" + opType + " (versions " + fromVersion + ".." + toVersion + ")";
        }

        private static int minCount(List<Param> ps) {
            int n = 0;
            for (int i = 0; i < ps.size(); i++) {
                if (!ps.get(i).optional()) {
                    n = i + 1;
                }
            }
            return n;
        }

        private static int maxCount(List<Param> ps) {
            return !ps.isEmpty() && ps.get(ps.size() - 1).variadic() ? Integer.MAX_VALUE : ps.size();
        }

        private static Param param(List<Param> ps, int index) {
            return index < ps.size() ? ps.get(index) : ps.get(ps.size() - 1);
        }
    }

    private static final Map<String, List<OpSchema>> BY_KEY = new LinkedHashMap<>();

    static {
        // ai.onnx, from the ONNX operator schemas (name, versions, inputs, outputs, attributes; "?" optional,
        // "+" variadic, "!" required attribute). Generated from onnx.defs and checked against the ONNX Runtime 1.29
        // model checker (OrtSchemaAgreementTest).
        onnx("Gather", 17, 26, "data indices", "output", "axis:INT");
        onnx("MatMul", 17, 26, "A B", "Y", "");
        onnx("Gemm", 17, 26, "A B C?", "Y", "alpha:FLOAT, beta:FLOAT, transA:INT, transB:INT");
        onnx("Conv", 17, 26, "X W B?", "Y", "auto_pad:STRING, dilations:INTS, group:INT, kernel_shape:INTS, pads:INTS, strides:INTS");
        onnx("Add", 17, 26, "A B", "C", "");
        onnx("Sub", 17, 26, "A B", "C", "");
        onnx("Mul", 17, 26, "A B", "C", "");
        onnx("Div", 17, 26, "A B", "C", "");
        onnx("Pow", 17, 26, "X Y", "Z", "");
        onnx("Sqrt", 17, 26, "X", "Y", "");
        onnx("Reciprocal", 17, 26, "X", "Y", "");
        onnx("Neg", 17, 26, "X", "Y", "");
        onnx("Exp", 17, 26, "input", "output", "");
        onnx("Log", 17, 26, "input", "output", "");
        onnx("Softplus", 17, 26, "X", "Y", "");
        onnx("Sigmoid", 17, 26, "X", "Y", "");
        onnx("Relu", 17, 26, "X", "Y", "");
        onnx("Tanh", 17, 26, "input", "output", "");
        onnx("Softmax", 17, 26, "input", "output", "axis:INT");
        onnx("ReduceMean", 17, 17, "data", "reduced", "axes:INTS, keepdims:INT");
        onnx("ReduceMean", 18, 26, "data axes?", "reduced", "keepdims:INT, noop_with_empty_axes:INT");
        onnx("ReduceSum", 17, 26, "data axes?", "reduced", "keepdims:INT, noop_with_empty_axes:INT");
        onnx("ReduceMax", 17, 17, "data", "reduced", "axes:INTS, keepdims:INT");
        onnx("ReduceMax", 18, 26, "data axes?", "reduced", "keepdims:INT, noop_with_empty_axes:INT");
        onnx("Reshape", 17, 26, "data shape", "reshaped", "allowzero:INT");
        onnx("Transpose", 17, 26, "data", "transposed", "perm:INTS");
        onnx("Concat", 17, 26, "inputs+", "concat_result", "axis:INT!");
        onnx("Slice", 17, 26, "data starts ends axes? steps?", "output", "");
        onnx("Split", 17, 17, "input split?", "outputs+", "axis:INT");
        onnx("Split", 18, 26, "input split?", "outputs+", "axis:INT, num_outputs:INT");
        onnx("Squeeze", 17, 26, "data axes?", "squeezed", "");
        onnx("Unsqueeze", 17, 26, "data axes", "expanded", "");
        onnx("Shape", 17, 26, "data", "shape", "end:INT, start:INT");
        onnx("Size", 17, 26, "data", "size", "");
        onnx("Cast", 17, 18, "input", "output", "to:INT!");
        onnx("Cast", 19, 23, "input", "output", "saturate:INT, to:INT!");
        onnx("Cast", 24, 26, "input", "output", "round_mode:STRING, saturate:INT, to:INT!");
        onnx("Expand", 17, 26, "input shape", "output", "");
        onnx("Where", 17, 26, "condition X Y", "output", "");
        onnx("Range", 17, 26, "start limit delta", "output", "");
        onnx("Equal", 17, 26, "A B", "C", "");
        onnx("Less", 17, 26, "A B", "C", "");
        onnx("Greater", 17, 26, "A B", "C", "");
        onnx("GreaterOrEqual", 17, 26, "A B", "C", "");
        onnx("ReduceMin", 17, 17, "data", "reduced", "axes:INTS, keepdims:INT");
        onnx("ReduceMin", 18, 26, "data axes?", "reduced", "keepdims:INT, noop_with_empty_axes:INT");
        onnx("Max", 17, 26, "data_0+", "max", "");
        onnx("Min", 17, 26, "data_0+", "min", "");
        onnx("Clip", 17, 26, "input min? max?", "output", "");
        onnx("Identity", 17, 26, "input", "output", "");
        onnx("ConstantOfShape", 17, 26, "input", "output", "value:TENSOR");
        onnx("Trilu", 17, 26, "input k?", "output", "upper:INT");
        onnx("CumSum", 17, 26, "x axis", "y", "exclusive:INT, reverse:INT");
        onnx("Tile", 17, 26, "input repeats", "output", "");
        onnx("RMSNormalization", 23, 26, "X scale", "Y", "axis:INT, epsilon:FLOAT, stash_type:INT");
        onnx("Attention", 23, 23, "Q K V attn_mask? past_key? past_value?", "Y present_key? present_value? qk_matmul_output?", "is_causal:INT, kv_num_heads:INT, q_num_heads:INT, qk_matmul_output_mode:INT, scale:FLOAT, softcap:FLOAT, softmax_precision:INT");
        // Attention: ONNX later added left/right_window_size to the opset-25 revision; ONNX Runtime 1.29 does not know
        // them ("Unrecognized attribute"), so 25..26 keep the opset-24 signature.
        onnx("Attention", 24, 26, "Q K V attn_mask? past_key? past_value? nonpad_kv_seqlen?", "Y present_key? present_value? qk_matmul_output?", "is_causal:INT, kv_num_heads:INT, q_num_heads:INT, qk_matmul_output_mode:INT, scale:FLOAT, softcap:FLOAT, softmax_precision:INT");
        onnx("Scan", 17, 26, "initial_state_and_scan_inputs+", "final_state_and_scan_outputs+", "body:GRAPH!, num_scan_inputs:INT!, scan_input_axes:INTS, scan_input_directions:INTS, scan_output_axes:INTS, scan_output_directions:INTS");
        onnx("Einsum", 17, 26, "Inputs+", "Output", "equation:STRING!");
        onnx("LayerNormalization", 17, 26, "X Scale B?", "Y Mean? InvStdDev?", "axis:INT, epsilon:FLOAT, stash_type:INT");
        onnx("If", 17, 26, "cond", "outputs+", "else_branch:GRAPH!, then_branch:GRAPH!");
        onnx("ArgMax", 17, 26, "data", "reduced", "axis:INT, keepdims:INT, select_last_index:INT");
        onnx("Abs", 17, 26, "X", "Y", "");
        onnx("Not", 17, 26, "X", "Y", "");
        onnx("And", 17, 26, "A B", "C", "");
        onnx("Or", 17, 26, "A B", "C", "");
        onnx("TopK", 17, 26, "X K", "Values Indices", "axis:INT, largest:INT, sorted:INT");
        onnx("Constant", 17, 26, "", "output", "value:TENSOR, value_float:FLOAT, value_floats:FLOATS, value_int:INT, value_ints:INTS, value_string:STRING, value_strings:STRINGS");
        onnx("Erf", 17, 26, "input", "output", "");
        onnx("Mod", 17, 26, "A B", "C", "fmod:INT");
        onnx("Sin", 17, 26, "input", "output", "");
        onnx("Cos", 17, 26, "input", "output", "");
        onnx("Flatten", 17, 26, "input", "output", "axis:INT");
        onnx("Pad", 17, 17, "data pads constant_value?", "output", "mode:STRING");
        onnx("Pad", 18, 26, "data pads constant_value? axes?", "output", "mode:STRING");
        onnx("GatherElements", 17, 26, "data indices", "output", "axis:INT");
        onnx("ScatterND", 17, 26, "data indices updates", "output", "reduction:STRING");
        onnx("Sum", 17, 26, "data_0+", "sum", "");
        onnx("Swish", 24, 26, "X", "Y", "alpha:FLOAT");
        onnx("Gelu", 20, 26, "X", "Y", "approximate:STRING");

        // com.microsoft version 1 (ONNX Runtime 1.29.0 contrib ops with CPU kernels). Arity, attribute names and
        // required attributes checked against the 1.29.0 native library (its model checker reports
        // "input size N not in range [min, max]" and "Unrecognized attribute"): both outputs of CausalConvWithState and
        // LinearAttention are required; GroupQueryAttention takes 7..16 inputs and 1..4 outputs.
        // CausalConvWithState: y = act(bias + depthwise causal conv over concat(past_state, input)); weight (C,1,K).
        ms("CausalConvWithState", "input weight bias? past_state?", "output present_state",
                "activation:STRING, ndim:INT, state_window:INT");
        // LinearAttention: recurrent linear attention; packed (B,T,H*D) q/k/v, state (B,H_kv,d_k,d_v).
        ms("LinearAttention", "query key value past_state? decay? beta?", "output present_state",
                "q_num_heads:INT!, kv_num_heads:INT!, update_rule:STRING, scale:FLOAT, chunk_size:INT, state_window:INT");
        // MatMulNBits (docs/ContribOperators.md): Y = A · dequantize(B)ᵀ; B uint8 (N, k_blocks, blob_size), scales
        // (N · k_blocks or N, k_blocks), zero_points "Defaults to 2^(bits-1)" when omitted; K, N, block_size required.
        ms("MatMulNBits", "A B scales zero_points? g_idx? bias?", "Y",
                "K:INT!, N:INT!, bits:INT, block_size:INT!, accuracy_level:INT");
        // GatherBlockQuantized: a Gather of block-quantized data (uint8: gather_axis 0, bits 2/4/8 packed low bits
        // first along the last axis; without zero_points "2^(bits-1) for uint8"), dequantized with scales.
        ms("GatherBlockQuantized", "data indices scales zero_points?", "output",
                "bits:INT, block_size:INT, gather_axis:INT, quantize_axis:INT");
        // GroupQueryAttention: BNSH past/present, seqlens_k = total_len - 1 (int32), total_sequence_length scalar.
        ms("GroupQueryAttention", "query key? value? past_key? past_value? seqlens_k total_sequence_length cos_cache? "
                        + "sin_cache? position_ids? attention_bias? head_sink? k_scale? v_scale? q_norm_weight? k_norm_weight?",
                "output present_key? present_value? output_qk?",
                "num_heads:INT!, kv_num_heads:INT!, scale:FLOAT, softcap:FLOAT, local_window_size:INT, "
                        + "sliding_window_cache:INT, do_rotary:INT, rotary_interleaved:INT, smooth_softmax:INT, qk_output:INT, "
                        + "k_quant_type:STRING, v_quant_type:STRING, kv_cache_bit_width:INT, qk_norm_epsilon:FLOAT");
    }

    private OpSchemas() {
    }

    /** The signature of {@code domain::opType} at operator-set version {@code version} of that domain, if known. */
    public static Optional<OpSchema> find(String domain, String opType, int version) {
        for (OpSchema s : BY_KEY.getOrDefault(key(domain, opType), List.of())) {
            if (s.fromVersion() <= version && version <= s.toVersion()) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    /** Every version range known for {@code domain::opType} (empty if the operator is unknown). */
    public static List<OpSchema> versions(String domain, String opType) {
        return BY_KEY.getOrDefault(key(domain, opType), List.of());
    }

    /** All entries, in registration order. */
    public static List<OpSchema> all() {
        List<OpSchema> out = new ArrayList<>();
        BY_KEY.values().forEach(out::addAll);
        return Collections.unmodifiableList(out);
    }

    private static String key(String domain, String opType) {
        return domain + "::" + opType;
    }

    private static void onnx(String op, int from, int to, String inputs, String outputs, String attrs) {
        register(new OpSchema(AI_ONNX, op, from, to, params(inputs), params(outputs), attrs(attrs)));
    }

    private static void ms(String op, String inputs, String outputs, String attrs) {
        register(new OpSchema(MICROSOFT, op, MICROSOFT_VERSION, MICROSOFT_VERSION, params(inputs), params(outputs), attrs(attrs)));
    }

    private static void register(OpSchema s) {
        List<OpSchema> list = BY_KEY.computeIfAbsent(key(s.domain(), s.opType()), k -> new ArrayList<>());
        for (OpSchema o : list) {
            if (o.fromVersion() <= s.toVersion() && s.fromVersion() <= o.toVersion()) {
                throw new IllegalStateException("overlapping schemas for " + s.label());
            }
        }
        list.add(s);
    }

    private static List<Param> params(String spec) {
        List<Param> out = new ArrayList<>();
        for (String p : spec.trim().split("\\s+")) {
            if (p.isEmpty()) {
                continue;
            }
            if (!out.isEmpty() && out.get(out.size() - 1).variadic()) {
                throw new IllegalStateException("only the last parameter may be variadic: " + spec);
            }
            if (p.endsWith("+")) {
                out.add(new Param(p.substring(0, p.length() - 1), false, true));
            } else if (p.endsWith("?")) {
                out.add(new Param(p.substring(0, p.length() - 1), true, false));
            } else {
                out.add(new Param(p, false, false));
            }
        }
        return List.copyOf(out);
    }

    private static Map<String, AttrSpec> attrs(String spec) {
        Map<String, AttrSpec> out = new LinkedHashMap<>();
        for (String a : spec.split(",")) {
            a = a.trim();
            if (a.isEmpty()) {
                continue;
            }
            boolean required = a.endsWith("!");
            if (required) {
                a = a.substring(0, a.length() - 1);
            }
            int colon = a.indexOf(':');
            String name = a.substring(0, colon);
            out.put(name, new AttrSpec(name, AttrType.valueOf(a.substring(colon + 1)), required));
        }
        return Collections.unmodifiableMap(out);
    }
}
