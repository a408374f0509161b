/**
 * NVIDIA ModelOpt quantized checkpoints (FP8 and NVFP4), at the level of stored bytes: the golden README's section
 * "Quantized checkpoints (FP8, NVFP4)" is the spec.
 * <ul>
 * <li>{@link dev.manyone.formats.quant.E4M3}, {@link dev.manyone.formats.quant.E2M1}: decode tables built from the bit
 * fields, round-to-nearest-even saturating encoders.</li>
 * <li>{@link dev.manyone.formats.quant.QuantizedLinear}: one quantized module {@code X} ({@code X.weight},
 * {@code X.weight_scale}, {@code X.weight_scale_2}, {@code X.input_scale}) validated against the format table, and
 * its dequantization to float by row blocks ({@link dev.manyone.formats.quant.Dequantize} on plain arrays).</li>
 * <li>{@link dev.manyone.formats.quant.QuantSlice}: a child's logical rows and input columns of {@code X} turned into
 * row/column selections of each stored tensor (every stored element is one byte), NVFP4 columns only in whole
 * 16-column blocks; the slicer copies those bytes as it copies BF16 ones.</li>
 * <li>{@link dev.manyone.formats.quant.QuantizationConfig}: {@code quantization_config} of config.json and
 * {@code hf_quant_config.json}, validated where manyone reads them, fields it does not read kept and written back
 * unchanged, renamed for a child's layers, written deterministically.</li>
 * <li>{@link dev.manyone.formats.quant.ModelOptQuantizer}: ModelOpt's recipe in float32, which reproduces every stored
 * code and scale of the golden parents.</li>
 * </ul>
 * The elastic module's {@code WeightLayout} decides, from a {@code QuantizationConfig}, which logical tensors of a
 * model are stored quantized; its exporter dequantizes them through {@code QuantizedLinear.dequantizeRows}.
 */
package dev.manyone.formats.quant;
