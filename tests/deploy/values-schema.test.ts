// values.schema.json refuses bad values before anything is rendered: `helm lint` and
// `helm template` both exit non-zero and name the offending value. Settings that are only wrong
// together fail the render with the chart's own message.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { CHART, HELM, run, setArgs } from "./helpers.js";

interface BadValue {
  values: string[];
  /** What helm's schema error must say (the JSON pointer of the value, and why). */
  message: RegExp;
}

const SCHEMA_ERRORS: BadValue[] = [
  { values: ["controller.replicas=0"], message: /\/controller\/replicas.*minimum/ },
  { values: ["naive.port=70000"], message: /\/naive\/port.*maximum/ },
  { values: ["polling.port=0"], message: /\/polling\/port.*minimum/ },
  { values: ["unknownKey=1"], message: /additional properties 'unknownKey' not allowed/ },
  { values: ["webhook.retries=5"], message: /\/webhook.*additional properties 'retries'/ },
  { values: ["image.pullPolicy=Sometimes"], message: /\/image\/pullPolicy.*one of/ },
  { values: ["logLevel=verbose"], message: /\/logLevel.*one of/ },
  { values: ["naive.enabled=yes"], message: /\/naive\/enabled.*boolean/ },
  { values: ["runAsUser=0"], message: /\/runAsUser.*minimum/ },
  { values: ["worker.jobPrefix=Trainyard_Train"], message: /\/worker\/jobPrefix/ },
  {
    values: ["worker.jobPrefix=a-prefix-that-is-far-too-long-for-jobs"],
    message: /\/worker\/jobPrefix.*maxLength|\/worker\/jobPrefix/,
  },
  { values: ["worker.resources.limits.cpu=lots"], message: /\/worker\/resources\/limits\/cpu/ },
  {
    values: ["worker.resources.requests.cpu=null"],
    message: /\/worker\/resources\/requests.*missing property 'cpu'/,
  },
  { values: ["webhook.backoff=linear"], message: /\/webhook\/backoff.*one of/ },
  { values: ['json:webhook.signingSecrets=["hunter2"]'], message: /\/webhook\/signingSecrets/ },
  { values: ["externalDatabase.url=mysql://db/x"], message: /\/externalDatabase\/url/ },
  { values: ["naive.service.type=Ingress"], message: /\/naive\/service\/type.*one of/ },
  { values: ["controller.maxRunning=0"], message: /\/controller\/maxRunning.*minimum/ },
  { values: ["postgresql.auth.password=p@ss/word"], message: /\/postgresql\/auth\/password/ },
  { values: ["logs.podLogAccess=yes"], message: /\/logs\/podLogAccess.*boolean/ },
  { values: ["logs.podLogs=true"], message: /\/logs.*additional properties 'podLogs'/ },
  // config.ts would refuse a short token at start; the schema refuses it at install.
  { values: ["auth.enabled=true", "auth.tokens={short}"], message: /\/auth\/tokens\/0/ },
  { values: ["auth.keys.tokens=api tokens"], message: /\/auth\/keys\/tokens/ },
  { values: ["auth.token=x"], message: /\/auth.*additional properties 'token'/ },
  { values: ["serviceMonitor.interval=soon"], message: /\/serviceMonitor\/interval/ },
  { values: ["serviceMonitor.enabled=1"], message: /\/serviceMonitor\/enabled.*boolean/ },
];

/** Valid one by one, wrong together: the chart fails the render with a message of its own. */
const RENDER_ERRORS: BadValue[] = [
  {
    values: ["postgresql.enabled=false"],
    message: /postgresql.enabled=false needs externalDatabase.url \(or existingSecret\)/,
  },
  {
    values: ["externalDatabase.url=postgres://u:p@db:5432/x"],
    message: /externalDatabase.url is used only with postgresql.enabled=false/,
  },
  {
    values: ["config.defaultDurationSeconds=600", "config.maxDurationSeconds=60"],
    message: /defaultDurationSeconds must not exceed config.maxDurationSeconds/,
  },
  {
    values: ["webhook.backoffSeconds=60", "webhook.backoffMaxSeconds=30"],
    message: /backoffMaxSeconds must be at least webhook.backoffSeconds/,
  },
  {
    // Tokens given but never required would be a false sense of safety.
    values: ["auth.tokens={full-access-token-of-alice-0123}"],
    message: /used only with auth.enabled=true/,
  },
  {
    // The chart writes no Secret then: the tokens would be dropped without a word.
    values: [
      "auth.enabled=true",
      "existingSecret=team-trainyard",
      "auth.tokens={full-access-token-of-alice-0123}",
    ],
    message: /with auth.existingSecret or existingSecret, put them in that Secret/,
  },
  {
    values: [
      "auth.enabled=true",
      "auth.tokens={full-access-token-of-alice-0123}",
      "auth.readTokens={full-access-token-of-alice-0123}",
    ],
    message: /cannot be in auth.tokens and auth.readTokens both/,
  },
];

describe("values schema", () => {
  test("is draft-07, closed at the top, and documents every top-level value in values.yaml", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as {
      $schema: string;
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.equal(schema.additionalProperties, false);
    const valuesText = readFileSync(join(CHART, "values.yaml"), "utf8");
    const values = parse(valuesText) as Record<string, unknown>;
    assert.deepEqual(Object.keys(values).sort(), Object.keys(schema.properties).sort());
    // Each top-level key is preceded by a comment (directly or for its section).
    const lines = valuesText.split("\n");
    for (const key of Object.keys(values)) {
      const at = lines.findIndex((l) => l.startsWith(`${key}:`));
      assert.match(lines[at - 1] ?? "", /^#/, `values.yaml: no comment above ${key}`);
    }
  });

  for (const bad of SCHEMA_ERRORS) {
    test(`refuses ${bad.values.join(" ")}`, async () => {
      for (const command of ["lint", "template"]) {
        const result = await run(HELM, [command, CHART, ...setArgs(bad.values)]);
        const output = `${result.stdout}\n${result.stderr}`;
        assert.notEqual(result.code, 0, `helm ${command} accepted ${bad.values.join(" ")}`);
        // lint reports the schema's verdict on values.yaml; template refuses to render.
        const verdict =
          command === "lint"
            ? /\[ERROR\] values\.yaml: /
            : /values don't meet the specifications of the schema/;
        assert.match(output, verdict);
        assert.match(output, bad.message);
      }
    });
  }

  for (const bad of RENDER_ERRORS) {
    test(`fails the render for ${bad.values.join(" ")}`, async () => {
      const result = await run(HELM, ["template", CHART, ...setArgs(bad.values)]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, bad.message);
    });
  }
});
