package dev.manyone.elastic.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;

import java.util.List;
import java.util.Map;

/**
 * The carried state of every layer (KV caches, conv and SSM states) after {@link #pastSeq} tokens, keyed by the
 * past_* input names. Owns its tensors: either the zero tensors of a fresh state or the ONNX Runtime result that
 * produced them (whose logits stay readable until this state is closed).
 */
public final class DecoderState implements AutoCloseable {
    private final Map<String, OnnxTensor> tensors;
    private final long pastSeq;
    private final int batch;
    private final OrtSession.Result owner;
    private final List<OnnxTensor> created;

    DecoderState(Map<String, OnnxTensor> tensors, long pastSeq, int batch, OrtSession.Result owner, List<OnnxTensor> created) {
        this.tensors = tensors;
        this.pastSeq = pastSeq;
        this.batch = batch;
        this.owner = owner;
        this.created = created;
    }

    Map<String, OnnxTensor> tensors() {
        return tensors;
    }

    /** Tokens seen so far. */
    public long pastSeq() {
        return pastSeq;
    }

    public int batch() {
        return batch;
    }

    @Override
    public void close() {
        if (owner != null) {
            owner.close();
        }
        for (OnnxTensor t : created) {
            t.close();
        }
    }
}
