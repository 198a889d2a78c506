// Reads a streamed response with fetch() and prints one JSON line: status, type, text or error.
// Used by tests/test_stream_clients.py (argv: url, timeout in ms).
const url = process.argv[2];
const out = {error: null};
try {
  const res = await fetch(url, {signal: AbortSignal.timeout(Number(process.argv[3] || 3000))});
  out.status = res.status;
  out.type = res.headers.get("content-type");
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    text += dec.decode(value, {stream: true});
  }
  out.text = text;
} catch (e) {
  out.error = e.name + ": " + e.message + (e.cause ? " / " + (e.cause.code || e.cause.message) : "");
}
console.log(JSON.stringify(out));
