import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InterruptedError, MailshiftError } from '../../src/core/errors.js';
import { fetchFilesHere, pushFilesHere } from '../../src/hosts/transfer-local.js';
import { fetchFiles, pushFiles } from '../../src/hosts/transfer.js';

let base: string;
let root: string;
let outside: string;
let staging: string;

beforeEach(() => {
  base = mkdtempSync(path.join(tmpdir(), 'mailshift-transfer-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  staging = path.join(base, 'staging');
  mkdirSync(path.join(root, 'etc', 'example.com'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(root, 'etc', 'example.com', 'passwd'), 'info:x:1:1::/home/u/mail/example.com/info:/bin/false\n');
  chmodSync(path.join(root, 'etc', 'example.com', 'passwd'), 0o640);
  utimesSync(path.join(root, 'etc', 'example.com', 'passwd'), 1577934245, 1577934245);
  writeFileSync(path.join(outside, 'shadow'), 'root:SECRET:19000::::::\n');
  symlinkSync(outside, path.join(root, 'etc', 'linked.example'));
  symlinkSync(path.join(outside, 'shadow'), path.join(root, 'etc', 'example.com', 'shadow'));
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('fetchFilesHere', () => {
  it('copies regular files with their mode and time, and leaves out missing ones', async () => {
    await fetchFilesHere(root, ['etc/example.com/passwd', 'etc/example.com/quota', 'etc/nothing/passwd'], staging);
    const copied = path.join(staging, 'etc', 'example.com', 'passwd');
    expect(readFileSync(copied, 'utf8')).toMatch(/^info:/);
    expect(lstatSync(copied).mode & 0o7777).toBe(0o640);
    expect(lstatSync(copied).mtimeMs).toBe(1577934245000);
    expect(existsSync(path.join(staging, 'etc', 'example.com', 'quota'))).toBe(false);
  });

  it('never reads through a symlink: not the file, not a directory on the way to it', async () => {
    await fetchFilesHere(root, ['etc/example.com/shadow', 'etc/linked.example/shadow'], staging);
    const found = existsSync(staging) ? readdirSync(staging, { recursive: true }).map(String) : [];
    expect(found.filter((name) => name.endsWith('shadow'))).toEqual([]);
  });

  it('is what fetchFiles does for a local root', async () => {
    await fetchFiles({ path: root }, ['etc/example.com/passwd', 'etc/linked.example/shadow'], staging);
    expect(readFileSync(path.join(staging, 'etc', 'example.com', 'passwd'), 'utf8')).toMatch(/^info:/);
    expect(existsSync(path.join(staging, 'etc', 'linked.example'))).toBe(false);
  });

  it('says for each path what it was: fetched, missing, not a regular file, or behind a link', async () => {
    const found = await fetchFilesHere(root, ['etc/example.com/passwd', 'etc/example.com/quota', 'etc/nothing/passwd', 'etc/example.com/shadow', 'etc/linked.example/shadow'], staging);
    expect(Object.fromEntries(found)).toEqual({
      'etc/example.com/passwd': 'file',
      'etc/example.com/quota': 'missing',
      'etc/nothing/passwd': 'missing',
      'etc/example.com/shadow': 'not-a-regular-file',
      'etc/linked.example/shadow': 'behind-a-link',
    });
  });

  it('refuses a name that is not a relative path inside the tree', async () => {
    await expect(fetchFilesHere(root, ['../outside/shadow'], staging)).rejects.toThrow(/not a relative path/);
    await expect(fetchFilesHere(root, ['/etc/shadow'], staging)).rejects.toThrow(/not a relative path/);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(fetchFilesHere(root, ['etc/example.com/passwd'], staging, { signal: controller.signal })).rejects.toBeInstanceOf(InterruptedError);
  });
});

describe('pushFilesHere', () => {
  beforeEach(() => {
    mkdirSync(path.join(staging, 'etc', 'example.com'), { recursive: true });
    mkdirSync(path.join(staging, 'etc', 'linked.example'), { recursive: true });
    writeFileSync(path.join(staging, 'etc', 'example.com', 'passwd'), 'merged\n', { mode: 0o640 });
    writeFileSync(path.join(staging, 'etc', 'example.com', 'shadow'), 'merged shadow\n', { mode: 0o640 });
    writeFileSync(path.join(staging, 'etc', 'linked.example', 'shadow'), 'planted\n', { mode: 0o640 });
  });

  it('replaces the file by a rename, with the staged mode, leaving no temporary file', async () => {
    await pushFilesHere(staging, ['etc/example.com/passwd'], root);
    const written = path.join(root, 'etc', 'example.com', 'passwd');
    expect(readFileSync(written, 'utf8')).toBe('merged\n');
    expect(lstatSync(written).mode & 0o7777).toBe(0o640);
    expect(readdirSync(path.join(root, 'etc', 'example.com')).sort()).toEqual(['passwd', 'shadow']);
  });

  it('replaces a symlink at the name instead of writing through it', async () => {
    await pushFilesHere(staging, ['etc/example.com/shadow'], root);
    expect(lstatSync(path.join(root, 'etc', 'example.com', 'shadow')).isFile()).toBe(true);
    expect(readFileSync(path.join(outside, 'shadow'), 'utf8')).toBe('root:SECRET:19000::::::\n');
  });

  it('refuses to write below a symlinked directory, and writes nothing outside the tree', async () => {
    const push = pushFilesHere(staging, ['etc/linked.example/shadow'], root);
    await expect(push).rejects.toBeInstanceOf(MailshiftError);
    await expect(push).rejects.toThrow(/not a real directory/);
    expect(readFileSync(path.join(outside, 'shadow'), 'utf8')).toBe('root:SECRET:19000::::::\n');
    expect(readlinkSync(path.join(root, 'etc', 'linked.example'))).toBe(outside);
  });

  it('makes the parent directories the target does not have yet', async () => {
    mkdirSync(path.join(staging, 'etc', 'valiases'));
    writeFileSync(path.join(staging, 'etc', 'valiases', 'new.example'), '*: u\n');
    await pushFilesHere(staging, ['etc/valiases/new.example'], root);
    expect(readFileSync(path.join(root, 'etc', 'valiases', 'new.example'), 'utf8')).toBe('*: u\n');
    expect(lstatSync(path.join(root, 'etc', 'valiases')).isDirectory()).toBe(true);
  });

  it('refuses a file where a directory is needed', async () => {
    writeFileSync(path.join(root, 'etc', 'vfilters'), 'a file');
    mkdirSync(path.join(staging, 'etc', 'vfilters'));
    writeFileSync(path.join(staging, 'etc', 'vfilters', 'example.com'), 'x\n');
    await expect(pushFilesHere(staging, ['etc/vfilters/example.com'], root)).rejects.toThrow(/not a real directory/);
  });

  it('is what pushFiles does for a local root', async () => {
    await pushFiles(staging, ['etc/example.com/passwd'], { path: root });
    expect(readFileSync(path.join(root, 'etc', 'example.com', 'passwd'), 'utf8')).toBe('merged\n');
  });
});
