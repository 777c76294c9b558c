// A push service stand-in for bench/notify.ts, in its own process so its work is not
// counted as the web node's: answers every POST 201 and tells the parent how many it has
// taken (each time `expect` is reached).
import { createServer } from "node:http";

let count = 0;
let expect = Infinity;
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(201).end();
    count += 1;
    if (count >= expect) {
      process.send({ type: "reached", count, at: Date.now() });
      expect = Infinity;
    }
  });
});
process.on("message", (m) => {
  if (m.type === "expect") {
    count = 0;
    expect = m.n;
  }
});
server.listen(0, "127.0.0.1", () =>
  process.send({ type: "listening", port: server.address().port }),
);
// Ends with the benchmark, however that ends.
process.on("disconnect", () => process.exit(0));
