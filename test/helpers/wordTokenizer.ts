// A word-level tokenizer.json for stories260K's ids (a vocabulary small enough to tokenize
// independently of the library), shared by the text calibration and perplexity text tests.

export const WORDS =
  'once upon a time there was little girl named lily she liked to play in the park . , with her dog big red ball sun'.split(
    ' ',
  );
export const BOS = 1;

/** A word-level tokenizer.json: lowercase, split on whitespace and punctuation, BOS by the post-processor. */
export function tokenizerJson(idOffset = 3) {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': BOS, '</s>': 2 };
  WORDS.forEach((w, i) => (vocab[w] = idOffset + i));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: BOS, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<s>': { id: '<s>', ids: [BOS], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/** The same tokenization, written independently of the library. */
export function tokenize(text: string): number[] {
  return (text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []).map((w) => {
    const i = WORDS.indexOf(w);
    return i < 0 ? 0 : 3 + i;
  });
}
