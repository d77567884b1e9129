# workerd config of the runtime smoke suite (scripts/test-runtimes.mjs starts it with
# --socket-addr NAME=127.0.0.1:PORT for each socket). Three services run the same worker: `plain`
# (compatibility date 2025-09-01, no flags), `compat` (the same with nodejs_compat: a `process`
# global without versions.node) and `current` (2026-11-01: nodejs_compat is the default since
# 2026-08-04, and process.versions.node is set, as is node:worker_threads). The kernels are wasm module bindings (ES imports of the .wasm give a
# WebAssembly.Module; workerd forbids compiling wasm from bytes at run time), the fixtures JSON
# modules, the library the built dist/index.js under its package name. The shipped char-GPT
# (models/char-gpt/) is bundled with the worker: config.json and greedy.json as JSON modules,
# model.safetensors as a data module (an ArrayBuffer); so are the BERT fixture checkpoints the
# suite runs (suite.mjs BERT_CASES) and their expected.json, and the tokenizer cases.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "plain", worker = .plainWorker),
    (name = "compat", worker = .compatWorker),
    (name = "current", worker = .currentWorker),
  ],
  sockets = [
    (name = "plain", address = "127.0.0.1:0", http = (), service = "plain"),
    (name = "compat", address = "127.0.0.1:0", http = (), service = "compat"),
    (name = "current", address = "127.0.0.1:0", http = (), service = "current"),
  ],
);

const modules :List(Workerd.Worker.Module) = [
  (name = "worker.mjs", esModule = embed "worker.mjs"),
  (name = "suite.mjs", esModule = embed "../suite.mjs"),
  (name = "fixture-cases.mjs", esModule = embed "../fixture-cases.mjs"),
  (name = "int8-kernels.mjs", esModule = embed "../int8-kernels.mjs"),
  (name = "wasm-attention", esModule = embed "../../../dist/index.js"),
  (name = "wasm-attention/kernels-simd.wasm", wasm = embed "../../../dist/kernels-simd.wasm"),
  (name = "wasm-attention/kernels-relaxed.wasm", wasm = embed "../../../dist/kernels-relaxed.wasm"),
  (name = "wasm-attention/kernels-simd-unshared.wasm", wasm = embed "../../../dist/kernels-simd-unshared.wasm"),
  (name = "fixtures/attention.json", json = embed "../../fixtures/attention.json"),
  (name = "fixtures/mha.json", json = embed "../../fixtures/mha.json"),
  (name = "fixtures/positional-encoding.json", json = embed "../../fixtures/positional-encoding.json"),
  (name = "char-gpt/config.json", json = embed "../../../models/char-gpt/config.json"),
  (name = "char-gpt/greedy.json", json = embed "../../../models/char-gpt/greedy.json"),
  (name = "char-gpt/model.safetensors", data = embed "../../../models/char-gpt/model.safetensors"),
  (name = "bert/expected.json", json = embed "../../fixtures/bert/expected.json"),
  (name = "bert/prefixed-cls/config.json", json = embed "../../fixtures/bert/prefixed-cls/config.json"),
  (name = "bert/prefixed-cls/model.safetensors", data = embed "../../fixtures/bert/prefixed-cls/model.safetensors"),
  (name = "bert/classifier-3/config.json", json = embed "../../fixtures/bert/classifier-3/config.json"),
  (name = "bert/classifier-3/model.safetensors", data = embed "../../fixtures/bert/classifier-3/model.safetensors"),
  (name = "bert/token-classifier-5/config.json", json = embed "../../fixtures/bert/token-classifier-5/config.json"),
  (name = "bert/token-classifier-5/model.safetensors", data = embed "../../fixtures/bert/token-classifier-5/model.safetensors"),
  (name = "bert/qa/config.json", json = embed "../../fixtures/bert/qa/config.json"),
  (name = "bert/qa/model.safetensors", data = embed "../../fixtures/bert/qa/model.safetensors"),
  (name = "tokenizer/cases.json", json = embed "../../fixtures/tokenizer/cases.json"),
];

const plainWorker :Workerd.Worker = (
  modules = .modules,
  compatibilityDate = "2025-09-01",
);

const compatWorker :Workerd.Worker = (
  modules = .modules,
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
);

const currentWorker :Workerd.Worker = (
  modules = .modules,
  compatibilityDate = "2026-11-01",
);
