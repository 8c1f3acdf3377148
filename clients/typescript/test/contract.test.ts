/** The client's types must be those of the portal it talks to, and the portal must let the
 * frontend's origin read its answers. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const baseUrl = process.env.UNDERSTUDY_URL ?? "";
const root = join(import.meta.dirname, "..", "..");

describe("contract", () => {
  it("has types generated from the live portal's OpenAPI schema", async () => {
    const response = await fetch(`${baseUrl}/api/schema/`, {
      headers: { Accept: "application/vnd.oai.openapi+json" },
    });
    assert.equal(response.status, 200);
    const directory = mkdtempSync(join(tmpdir(), "understudy-schema-"));
    try {
      const schemaFile = join(directory, "openapi.json");
      const typesFile = join(directory, "schema.ts");
      writeFileSync(schemaFile, await response.text());
      execFileSync(join(root, "node_modules", ".bin", "openapi-typescript"), [
        schemaFile,
        "-o",
        typesFile,
      ], { stdio: "pipe" });
      const committed = readFileSync(join(root, "src", "schema.ts"), "utf8");
      assert.equal(
        readFileSync(typesFile, "utf8"),
        committed,
        "src/schema.ts is out of date: save the schema to openapi.json and run npm run generate",
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("lets an allowed origin read answers and their ETag", async () => {
    const origin = process.env.UNDERSTUDY_CORS_ORIGIN ?? "";
    const response = await fetch(`${baseUrl}/api/v1/environments/`, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
      },
    });
    assert.equal(response.headers.get("access-control-allow-origin"), origin);
    const other = await fetch(`${baseUrl}/api/v1/sites/`, {
      headers: { Origin: "https://elsewhere.example.com" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });
});
