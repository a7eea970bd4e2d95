// The baseline of POST /predict: the same fastify version in its own process, one route that
// parses the JSON body as fastify does and answers a constant JSON document of the same shape
// as a prediction. No logging, no validation, no model: what is left is HTTP plus fastify.
import Fastify from "fastify";

const port = Number(process.argv[2] ?? 0);
const answer = {
  model_id: "00000000-0000-4000-8000-000000000000",
  predictions: [{ body_mass_g: 3753.1638959583483 }],
};

const app = Fastify();
app.get("/livez", () => ({ status: "ok" }));
app.post("/predict", () => answer);

app.listen({ host: "127.0.0.1", port }).catch((err: unknown) => {
  process.stderr.write(`bare server failed: ${String(err)}\n`);
  process.exit(1);
});
process.once("SIGTERM", () => {
  void app.close().then(() => process.exit(0));
});
