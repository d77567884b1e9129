// The date translator's character vocabulary (models/date-translator/config.json): text to ids
// and back. Source ids are the characters alone; a target starts with BOS and ends at EOS.
import { readFile } from 'node:fs/promises';

/** Reads config.json (a path or URL; default: the shipped model's). */
export async function loadConfig(url = new URL('../../models/date-translator/config.json', import.meta.url)) {
  return JSON.parse(await readFile(url, 'utf8'));
}

/** { encodeSource, decodeTarget, pad, bos, eos, size } for a config. */
export function createVocab(config) {
  const { vocab, padId: pad, bosId: bos, eosId: eos, maxSrcLen } = config;
  const ids = new Map(vocab.map((token, id) => [token, id]));
  return {
    pad, bos, eos, size: vocab.length,
    /** Text to source ids: lower-cased, spaces collapsed; a character outside the vocabulary
     * or a sentence longer than maxSrcLen is a RangeError naming it. */
    encodeSource(text) {
      const clean = String(text).toLowerCase().trim().replace(/\s+/g, ' ');
      if (clean.length === 0 || clean.length > maxSrcLen) {
        throw new RangeError(`translate: the sentence has ${clean.length} characters (1 to ${maxSrcLen} allowed)`);
      }
      return Array.from(clean, (ch) => {
        const id = ids.get(ch);
        if (id === undefined || id <= eos) throw new RangeError(`translate: character ${JSON.stringify(ch)} is not in the vocabulary`);
        return id;
      });
    },
    /** Generated ids (after BOS) to text, stopping at EOS; special ids are dropped. */
    decodeTarget(outIds) {
      let text = '';
      for (const id of outIds) {
        if (id === eos) break;
        if (id > eos && id < vocab.length) text += vocab[id];
      }
      return text;
    },
  };
}
