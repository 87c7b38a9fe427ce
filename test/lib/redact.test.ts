import { expect, test } from "bun:test";
import { REDACTED, Redactor } from "../../src/lib/redact.ts";

test("replaces registered secret values wherever they appear", () => {
  const redactor = new Redactor(["s3cr3t-value"]);
  redactor.add("another-secret");
  expect(redactor.text("x=s3cr3t-value;y=another-secret")).toBe(`x=${REDACTED};y=${REDACTED}`);
});

test("ignores values too short to be secrets", () => {
  expect(new Redactor(["ab"]).text("ab cab")).toBe("ab cab");
});

test("hides URL credentials, token query parameters, bearer tokens and HF tokens", () => {
  const redactor = new Redactor();
  expect(redactor.text("https://user:pass@host.example/x")).toBe("https://***@host.example/x");
  expect(redactor.text("https://h/x?a=1&token=abc&X-Amz-Signature=def")).toBe(
    "https://h/x?a=1&token=***&X-Amz-Signature=***",
  );
  expect(redactor.text("Authorization: Bearer abc.def")).toBe("Authorization: Bearer ***");
  expect(redactor.text("use hf_abcdefghijklmnopqrst now")).toBe("use *** now");
});

test("replaces values under secret-named keys in nested objects and arrays", () => {
  const input = { HF_TOKEN: "x1", nested: [{ apiKey: "k", api_key: "k2", ok: "fine" }], authorization: "raw", n: 3 };
  expect(new Redactor().value(input)).toEqual({
    HF_TOKEN: REDACTED,
    nested: [{ apiKey: REDACTED, api_key: REDACTED, ok: "fine" }],
    authorization: REDACTED,
    n: 3,
  });
});

test("survives cycles and errors", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  expect(new Redactor().value(cyclic)).toEqual({ a: 1, self: "[circular]" });
  expect(new Redactor(["password1"]).value<unknown>({ e: new Error("bad password1") })).toEqual({
    e: `bad ${REDACTED}`,
  });
});
