// The shipped date translator (models/date-translator/) on the engine: character embeddings ·
// √dModel + sinusoidal positions in JavaScript, nn.Transformer on the engine (encode once, then
// decode the whole prefix at every step, as the PyTorch reference does), and the generator as an
// engine.linear on the last position. Greedy: the argmax token, until EOS or maxTgtLen − 1 tokens
// (train.py's greedy_one: the decoder never sees more than the maxTgtLen positions it was trained on).
import { readFile } from 'node:fs/promises';
import { loadSafetensors, positionalEncoding } from '../../dist/index.js';
import { createVocab, loadConfig } from './vocab.mjs';

const MODEL = new URL('../../models/date-translator/', import.meta.url);

/** Loads the model onto `engine`; returns { vocab, translateIds(srcIds), translate(text), dispose() }. */
export async function createTranslator(engine, dir = MODEL) {
  const config = await loadConfig(new URL('config.json', dir));
  const weights = loadSafetensors(await readFile(new URL('model.safetensors', dir)));
  const vocab = createVocab(config);
  const d = config.dModel;
  // nn.Transformer's own state dict is the file's `transformer.` entries without the prefix.
  const transformerWeights = Object.fromEntries(Object.entries(weights)
    .filter(([k]) => k.startsWith('transformer.')).map(([k, v]) => [k.slice('transformer.'.length), v]));
  const model = engine.transformer({
    dModel: d, nhead: config.nhead, numEncoderLayers: config.numEncoderLayers, numDecoderLayers: config.numDecoderLayers,
    dimFeedforward: config.dimFeedforward, activation: config.activation, layerNormEps: config.layerNormEps,
    normFirst: config.normFirst, weights: transformerWeights,
  });
  const generator = engine.linear({
    inFeatures: d, outFeatures: vocab.size, weights: { weight: weights['generator.weight'], bias: weights['generator.bias'] },
  });
  const positions = positionalEncoding(Math.max(config.maxSrcLen, config.maxTgtLen + 1), d);

  /** ids → [ids.length, d]: table[id]·scale + PE[pos], in f32 as torch computes it. */
  const embed = (table, ids) => {
    const out = new Float32Array(ids.length * d);
    ids.forEach((id, pos) => {
      for (let c = 0; c < d; c++) {
        out[pos * d + c] = Math.fround(Math.fround(table[id * d + c] * config.embeddingScale) + positions[pos * d + c]);
      }
    });
    return out;
  };

  async function translateIds(srcIds) {
    const memory = engine.createTensor(await model.encode(embed(weights['src_embed.weight'], srcIds),
      { batch: 1, seqS: srcIds.length }));
    try {
      const tgt = [vocab.bos];
      const out = [];
      while (out.length < config.maxTgtLen - 1) { // BOS and the ids: maxTgtLen positions at most, as trained
        const hidden = await model.decode(embed(weights['tgt_embed.weight'], tgt), memory,
          { batch: 1, seqT: tgt.length, seqS: srcIds.length, tgtIsCausal: true });
        const logits = await generator.forward(hidden.subarray((tgt.length - 1) * d), { rows: 1 });
        let best = 0;
        for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
        out.push(best);
        if (best === vocab.eos) break;
        tgt.push(best);
      }
      return out;
    } finally {
      await memory.dispose();
    }
  }

  return {
    vocab,
    translateIds,
    async translate(text) {
      const ids = await translateIds(vocab.encodeSource(text));
      return { ids, text: vocab.decodeTarget(ids) };
    },
    async dispose() {
      await Promise.all([model.dispose(), generator.dispose()]);
    },
  };
}
