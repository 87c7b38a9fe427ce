import { expect, test } from "bun:test";
import { EMPTY_SHA256, signRequest } from "../../src/sync/s3/sigv4.ts";
import { decodeXml, xmlBlocks, xmlText } from "../../src/sync/s3/xml.ts";

// the GET Object example of AWS's "Signature Calculations for the Authorization Header" (SigV4, S3)
test("SigV4 matches AWS's published example signature", () => {
  const headers = signRequest(
    {
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
      headers: { range: "bytes=0-9" },
      payloadHash: EMPTY_SHA256,
    },
    {
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      region: "us-east-1",
    },
    new Date("2013-05-24T00:00:00Z"),
  );
  expect(headers.authorization).toBe(
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

test("S3 XML: entities decoded, blocks found in order", () => {
  const xml = "<R><Contents><Key>a&amp;b &#x41;.pt</Key><Size>3</Size></Contents><Contents><Key>c</Key></Contents></R>";
  expect(xmlBlocks(xml, "Contents")).toHaveLength(2);
  expect(xmlText(xml, "Key")).toBe("a&b A.pt");
  expect(decodeXml("&lt;&gt;&quot;&apos;")).toBe(`<>"'`);
});
