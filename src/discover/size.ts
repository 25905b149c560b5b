import { parseSize } from '../core/size.js';

/** A size in the command line's grammar (core/size.ts: "10G", "500M", "1.5GB", "2GiB", "1T", "1048576"); undefined when the text is not one. */
export function parseSizeBytes(text: string): number | undefined {
  const parsed = parseSize(text);
  return parsed.ok ? parsed.bytes : undefined;
}
