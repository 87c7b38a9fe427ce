import { expect, test } from "bun:test";
import { isAllowedHost, isPrivateAddress } from "../../src/lib/net.ts";

test("refuses loopback, private, link-local, CGNAT and metadata addresses", () => {
  for (const address of [
    "127.0.0.1",
    "127.8.9.1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    // the same addresses in the forms URL parsing produces, and IPv6 transition forms that carry them
    "::ffff:7f00:1",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "::7f00:1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
    "2002:c0a8:101::1",
    "not-an-ip",
  ]) {
    expect([address, isPrivateAddress(address)]).toEqual([address, true]);
  }
});

test("accepts public addresses", () => {
  for (const address of [
    "8.8.8.8",
    "172.32.0.1",
    "172.15.255.255",
    "100.128.0.1",
    "2606:4700::1111",
    "::ffff:1.1.1.1",
    "::ffff:101:101",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ]) {
    expect([address, isPrivateAddress(address)]).toEqual([address, false]);
  }
});

test("allows listed hosts and their subdomains only", () => {
  const allowed = ["huggingface.co", "civitai.com"];
  expect(isAllowedHost("huggingface.co", allowed)).toBe(true);
  expect(isAllowedHost("cdn-lfs.HuggingFace.co", allowed)).toBe(true);
  expect(isAllowedHost("evilhuggingface.co", allowed)).toBe(false);
  expect(isAllowedHost("huggingface.co.evil.com", allowed)).toBe(false);
  expect(isAllowedHost("example.com", allowed)).toBe(false);
});
