/**
 * Importance estimation (issue 5, not started): activation-based rankings of hidden channels, Mamba heads and
 * head channels, attention query heads and FFN neurons, and normalized-MSE layer importance, computed by ONNX
 * Runtime on a probe export. Nothing is implemented here yet.
 */
package dev.manyone.importance;
