import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectorFetch, hostRefusal, isPublicAddress, refusalIn } from "../../src/session/connector-fetch.js";

describe("isPublicAddress", () => {
  it("refuses loopback, private, link-local, metadata and other non-public addresses, also written as IPv6", () => {
    for (const address of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::a9fe:a9fe"]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    for (const address of ["93.184.215.14", "140.82.112.3", "2606:4700::6810:85e5", "::ffff:8.8.8.8"]) expect(isPublicAddress(address), address).toBe(true);
    expect(isPublicAddress("example.com")).toBe(false);
  });
});

describe("hostRefusal", () => {
  it("says why a host is refused under a policy", () => {
    expect(hostRefusal("127.0.0.1", undefined)).toBe("127.0.0.1 is not a public address");
    expect(hostRefusal("[::1]", undefined)).toBe("::1 is not a public address");
    expect(hostRefusal("mcp.example.com", [])).toBe("the network policy allows no hosts (mcp.example.com)");
    expect(hostRefusal("mcp.example.com", ["api.example.com"])).toBe("the network policy does not allow mcp.example.com");
    expect(hostRefusal("mcp.example.com", ["*.example.com"])).toBeUndefined();
    expect(hostRefusal("mcp.example.com", undefined)).toBeUndefined();
  });
});

describe("connectorFetch", () => {
  let server: Server;
  let port = 0;
  /** What reached the loopback listener: nothing may. */
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? "");
      res.writeHead(200).end("internal");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const refusal = async (url: string, allowed: readonly string[] | undefined) => {
    try {
      await connectorFetch(allowed)(url);
      return "connected";
    } catch (error) {
      return refusalIn(error) ?? (error as Error).message;
    }
  };

  it("never connects to the server's own network, by address or by a name that resolves there", async () => {
    expect(await refusal(`http://127.0.0.1:${port}/mcp`, undefined)).toBe("127.0.0.1 is not a public address");
    expect(await refusal(`http://localhost:${port}/mcp`, ["localhost"])).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is not a public address$/);
    expect(await refusal(`http://localhost:${port}/mcp`, [])).toBe("the network policy allows no hosts (localhost)");
    expect(hits).toEqual([]);
  });
});
