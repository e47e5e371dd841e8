// Runs an ONNX model exported by `aslnet export --softmax` in onnxruntime-node (tests/e2e/export_onnxruntime.sh):
//
//   node export_onnxruntime.mjs PACKAGE_DIR MODEL.onnx INPUT.f32 N S LOGITS.json
//
// PACKAGE_DIR is the npm prefix that holds node_modules/onnxruntime-node; INPUT.f32 is N images of
// float32 [3, S, S] (little-endian, NCHW, as tests/e2e/onnx_input.py prepares them). Checks the model's
// input and outputs (names, free batch dimension), that 'probabilities' is the softmax of 'logits', and
// that one image alone gives its row of the batch; writes the logits, one row per image, to LOGITS.json.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [packageDir, modelPath, inputPath, nText, sText, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: node export_onnxruntime.mjs PACKAGE_DIR MODEL.onnx INPUT.f32 N S LOGITS.json");
  process.exit(2);
}
const ort = createRequire(path.join(path.resolve(packageDir), "package.json"))("onnxruntime-node");
const n = Number(nText), s = Number(sText);

function fail(message) {
  console.error(`export_onnxruntime.mjs: ${message}`);
  process.exit(1);
}

const bytes = readFileSync(inputPath);
if (bytes.length !== n * 3 * s * s * 4) {
  fail(`${inputPath} holds ${bytes.length} bytes, not ${n} x 3 x ${s} x ${s} floats`);
}
const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));

// One thread each: the answers do not depend on how the work is split, and the test shares 2 cores.
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1,
});
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
if (!same(session.inputNames, ["input"])) fail(`inputs ${session.inputNames}, expected [input]`);
if (!same(session.outputNames, ["logits", "probabilities"])) {
  fail(`outputs ${session.outputNames}, expected [logits, probabilities] (exported with --softmax)`);
}
const input = session.inputMetadata?.[0];
if (input && input.isTensor) {
  const [batch, ...rest] = input.shape;
  if (typeof batch !== "string" || !same(rest, [3, s, s]) || input.type !== "float32") {
    fail(`input is ${input.type} ${JSON.stringify(input.shape)}, expected float32 [batch, 3, ${s}, ${s}]`);
  }
}

const run = async (count, offset) => {
  const image = 3 * s * s;
  const x = new ort.Tensor("float32", data.subarray(offset * image, (offset + count) * image), [count, 3, s, s]);
  return session.run({ input: x });
};
const out = await run(n, 0);
const { logits, probabilities } = out;
if (!same(logits.dims, probabilities.dims) || logits.dims.length !== 2 || logits.dims[0] !== n) {
  fail(`logits ${JSON.stringify(logits.dims)} and probabilities ${JSON.stringify(probabilities.dims)} ` +
    `for ${n} images`);
}
const classes = logits.dims[1];
const rows = [];
let softmaxError = 0;
for (let i = 0; i < n; ++i) {
  const row = Array.from(logits.data.subarray(i * classes, (i + 1) * classes));
  rows.push(row);
  const max = Math.max(...row);
  const sum = row.reduce((acc, v) => acc + Math.exp(v - max), 0);
  row.forEach((v, c) => {
    softmaxError = Math.max(softmaxError, Math.abs(Math.exp(v - max) / sum - probabilities.data[i * classes + c]));
  });
}
if (!(softmaxError < 1e-5)) fail(`probabilities differ from the softmax of logits by ${softmaxError}`);

// The batch dimension is free: one image alone gives its row of the batch.
const alone = await run(1, n - 1);
let aloneError = 0;
alone.logits.data.forEach((v, c) => {
  const scale = Math.max(1, ...rows[n - 1].map(Math.abs));
  aloneError = Math.max(aloneError, Math.abs(v - rows[n - 1][c]) / scale);
});
if (!(aloneError < 1e-5)) fail(`image ${n} alone differs from its row in the batch by ${aloneError} relative`);

writeFileSync(outPath, JSON.stringify(rows));
console.log(`onnxruntime-node ${ort.env.versions?.node ?? "?"}: ${n} images, ${classes} classes; probabilities are ` +
  `the softmax of logits (within ${softmaxError.toExponential(1)}), one image alone matches its batch row`);
await session.release?.();
