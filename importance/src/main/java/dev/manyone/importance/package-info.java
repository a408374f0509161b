/**
 * Importance estimation (issue 5): activation-based rankings of hidden channels, Mamba heads and head channels,
 * attention query heads and FFN neurons, and layer importance by the normalized MSE of the logits (Nemotron Elastic
 * eq. 5, optionally iterative) or the cosine distance around each layer. Forward passes only, by ONNX Runtime on a
 * probe export of the parent, whole-model or layer-streamed ({@link dev.manyone.importance.ImportanceEstimator});
 * Java only aggregates. Also the evaluation of what rankings are worth ({@link dev.manyone.importance.RankEval}).
 * See docs/importance.md.
 */
package dev.manyone.importance;
