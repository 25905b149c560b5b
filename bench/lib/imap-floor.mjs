#!/usr/bin/env node
// A measuring probe, not a product: the least an IMAP -> maildir copy in Node can do, timed beside mailshift and
// mbsync to show what this machine allows a Node client at all (issue 6's target is "faster than mbsync").
//
// It does only what every such copy must: one connection, LOGIN, EXAMINE INBOX, one pipelined
// `FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])`, CRLF -> LF, and per message a file written under tmp/, dated
// with INTERNALDATE and renamed into cur/. Nothing else: no TLS, no folder list, no state for re-runs, no
// uidlist or keywords, no checks that every UID arrived, no error handling beyond giving up. It reads the socket
// into one reused buffer (net's `onread`), so no buffer is allocated per read.
// With LANES > 1 the folder is split by sequence number over LANES connections, each on a thread of its own: what
// spreading one copy over both cores buys.
//
// usage: node imap-floor.mjs HOST PORT USER PASSWORD_FILE MAILDIR [LANES]
import { closeSync, futimesSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const [host, portText, user, passwordFile, maildir, lanesText = '1'] = isMainThread ? process.argv.slice(2) : workerData.argv;
const lanes = Number(lanesText);
if (!maildir || !(lanes >= 1)) {
  process.stderr.write('usage: node imap-floor.mjs HOST PORT USER PASSWORD_FILE MAILDIR [LANES]\n');
  process.exit(2);
}
const lane = isMainThread ? 0 : workerData.lane;
if (isMainThread && lanes > 1) {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(`${maildir}/${sub}`, { recursive: true });
  let copiedByAll = 0;
  let running = lanes;
  for (let i = 0; i < lanes; i += 1) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { argv: process.argv.slice(2), lane: i } });
    worker.on('message', (count) => {
      copiedByAll += count;
      running -= 1;
      if (running === 0) process.stdout.write(`${copiedByAll} messages\n`);
    });
    worker.on('error', (err) => {
      process.stderr.write(`imap-floor: ${err.message}\n`);
      process.exit(1);
    });
  }
} else {
  copyLane();
}

function copyLane() {
  const password = readFileSync(passwordFile, 'utf8').trim();
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(`${maildir}/${sub}`, { recursive: true });
  const host_ = hostname().replace(/[/:]/g, '_');
  const quote = (text) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const flagLetters = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };

  /** Every CRLF becomes LF, in place. */
  function toLf(buffer) {
    let write = 0;
    let from = 0;
    for (let i = buffer.indexOf(0x0a); i >= 0; i = buffer.indexOf(0x0a, i + 1)) {
      if (i === 0 || buffer[i - 1] !== 0x0d) continue;
      if (write !== from) buffer.copyWithin(write, from, i - 1);
      write += i - 1 - from;
      buffer[write++] = 0x0a;
      from = i + 1;
    }
    if (write !== from) buffer.copyWithin(write, from);
    return buffer.subarray(0, write + buffer.length - from);
  }

  let copied = 0;
  function writeMessage(body, meta) {
    const info = meta.flags.map((flag) => flagLetters[flag] ?? '').sort().join('');
    const base = `${meta.uid}.P${process.pid}Q${meta.uid}.${host_},S=${body.length}`;
    const tmp = `${maildir}/tmp/${base}`;
    const fd = openSync(tmp, 'wx', 0o600);
    writeSync(fd, body);
    futimesSync(fd, meta.date, meta.date);
    closeSync(fd);
    renameSync(tmp, `${maildir}/cur/${base}:2,${info}`);
    copied += 1;
  }

  const fetchLine = /UID (\d+)/;
  const flagsPart = /FLAGS \(([^)]*)\)/;
  const datePart = /INTERNALDATE "([^"]+)"/;
  const literalAtEnd = /\{(\d+)\}$/;

  let step = 'greeting';
  let exists = 0;
  function onLine(text) {
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (step === 'greeting' && line.startsWith('* OK')) {
      socket.write(`a LOGIN ${quote(user)} ${quote(password)}\r\n`);
      step = 'login';
    } else if (step === 'login' && line.startsWith('a ')) {
      if (!line.startsWith('a OK')) fail(line);
      socket.write('b EXAMINE INBOX\r\n');
      step = 'examine';
    } else if (step === 'examine' && line.startsWith('* ') && line.endsWith(' EXISTS')) {
      exists = Number(line.split(' ')[1]);
    } else if (step === 'examine' && line.startsWith('b ')) {
      if (!line.startsWith('b OK')) fail(line);
      // This lane's share of the folder, by sequence number.
      const share = Math.ceil(exists / lanes);
      const first = lane * share + 1;
      const last = Math.min(exists, (lane + 1) * share);
      if (first > last) {
        socket.end('d LOGOUT\r\n');
        step = 'done';
        return;
      }
      socket.write(`c FETCH ${lanes === 1 ? '1:*' : `${first}:${last}`} (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n`);
      step = 'fetch';
    } else if (step === 'fetch') {
      if (line.startsWith('c ')) {
        if (!line.startsWith('c OK')) fail(line);
        socket.end('d LOGOUT\r\n');
        step = 'done';
        return;
      }
      const literal = literalAtEnd.exec(line);
      if (!literal) return;
      const flags = flagsPart.exec(line)?.[1] ?? '';
      meta = {
        uid: Number(fetchLine.exec(line)?.[1]),
        flags: flags ? flags.split(' ') : [],
        date: new Date(Date.parse(datePart.exec(line)?.[1] ?? '')),
      };
      literalLeft = Number(literal[1]);
      literalParts = [];
    }
  }

  function fail(why) {
    process.stderr.write(`imap-floor: ${why}\n`);
    process.exit(1);
  }

  let meta;
  let literalLeft = -1;
  let literalParts = [];
  let lineCarry;
  function onBytes(bytes) {
    // `bytes` is the reused read buffer: whatever outlives this call is copied out of it.
    let chunk = bytes;
    if (lineCarry) {
      chunk = Buffer.concat([lineCarry, bytes]);
      lineCarry = undefined;
    }
    let at = 0;
    while (at < chunk.length) {
      if (literalLeft >= 0) {
        const take = Math.min(literalLeft, chunk.length - at);
        literalParts.push(Buffer.from(chunk.subarray(at, at + take)));
        at += take;
        literalLeft -= take;
        if (literalLeft > 0) return;
        literalLeft = -1;
        writeMessage(toLf(literalParts.length === 1 ? literalParts[0] : Buffer.concat(literalParts)), meta);
        continue;
      }
      const lf = chunk.indexOf(0x0a, at);
      if (lf < 0) {
        lineCarry = Buffer.from(chunk.subarray(at));
        return;
      }
      onLine(chunk.toString('latin1', at, lf));
      at = lf + 1;
    }
  }

  const socket = connect({
    host,
    port: Number(portText),
    onread: { buffer: Buffer.allocUnsafe(256 * 1024), callback: (length, buffer) => void onBytes(buffer.subarray(0, length)) },
  });
  socket.on('error', (err) => fail(err.message));
  socket.on('close', () => {
    if (step !== 'done') fail(`connection closed during ${step}`);
    if (isMainThread) process.stdout.write(`${copied} messages\n`);
    else parentPort.postMessage(copied);
  });
}
