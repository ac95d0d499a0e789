import { readdir, readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where `npm run console:build` (also run by `npm install` and `npm run build`) writes the console:
 * web/console/build beside the sources, dist/web/console/build in a built image.
 */
export function defaultConsoleAssetsDir(): string {
  return fileURLToPath(new URL("../../web/console/build/", import.meta.url));
}

/**
 * The console's pages may load only what the service itself serves: no inline script can run, so an
 * address or subject that smuggles markup into a page still cannot execute. Inline styles stay
 * allowed: a previewed email's HTML (in a sandboxed frame, which inherits this policy) is styled
 * with them.
 */
export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers every console answer carries, pages and API alike. */
export const CONSOLE_SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * The built console, read once at start-up (a few hundred KiB): index.html for every page path
 * (the console routes in the browser) and the content-hashed files under /admin/assets/, which
 * never change under their names and are cached for good.
 */
export class ConsoleAssets {
  readonly #index: Buffer | undefined;
  readonly #files: ReadonlyMap<string, Asset>;

  private constructor(index: Buffer | undefined, files: ReadonlyMap<string, Asset>) {
    this.#index = index;
    this.#files = files;
  }

  /** The build in `dir`; a missing build is not an error here: the console then says how to build it. */
  static async load(dir: string): Promise<ConsoleAssets> {
    let index: Buffer;
    try {
      index = await readFile(join(dir, "index.html"));
    } catch {
      return new ConsoleAssets(undefined, new Map());
    }
    const files = new Map<string, Asset>();
    const assetsDir = join(dir, "assets");
    for (const name of await readdir(assetsDir).catch(() => [] as string[])) {
      const type = CONTENT_TYPES[extname(name)];
      if (type) files.set(name, { type, body: await readFile(join(assetsDir, name)) });
    }
    return new ConsoleAssets(index, files);
  }

  get built(): boolean {
    return this.#index !== undefined;
  }

  sendIndex(res: ServerResponse): void {
    if (!this.#index) {
      const body = Buffer.from(
        `<!doctype html><title>Console not built</title><p>The operator console's files are not built. Run <code>npm run console:build</code> (npm install runs it too) and restart the service.</p>`,
      );
      res.writeHead(503, { ...CONSOLE_SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" });
      res.end(body);
      return;
    }
    res.writeHead(200, {
      ...CONSOLE_SECURITY_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "content-length": this.#index.length,
      "cache-control": "no-cache",
    });
    res.end(this.#index);
  }

  /** Answers a file under /admin/assets/; false when there is no such file. */
  sendAsset(res: ServerResponse, name: string): boolean {
    const asset = this.#files.get(name);
    if (!asset) return false;
    res.writeHead(200, {
      ...CONSOLE_SECURITY_HEADERS,
      "content-type": asset.type,
      "content-length": asset.body.length,
      "cache-control": "public, max-age=31536000, immutable",
    });
    res.end(asset.body);
    return true;
  }
}
