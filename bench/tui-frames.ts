// node --import tsx bench/tui-frames.ts: how fast the console draws, and how much, while an install floods it.
//
// The console runs with the options tui/run.tsx gives it (tty1: whole frames, at most 10 a second; serial: the
// changed lines only, at most 4 a second) but writes to a counting stream of 80x24. It measures the time to the
// first frame of the installer and of the Install screen, then feeds the Install screen progress events at several
// rates (the engine emits ~4/s; a misbehaving step or a replayed log can emit thousands) and reports frames/s,
// bytes/s and CPU.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createElement } from 'react';

// Ink renders nothing until exit when it believes it is in CI: measure what a console gets.
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;
process.env.TERM = 'linux';

const { render } = await import('ink');
const { WatchApp } = await import('../tui/watch.tsx');
const { App } = await import('../tui/app.tsx');
const { renderOptions } = await import('../tui/run.tsx');
const { makeSession } = await import('../test/tui/helpers.tsx');
type InstallEvent = import('../ops/events.ts').InstallEvent;
type ConsoleKind = import('../tui/theme.ts').ConsoleKind;

class Screen extends EventEmitter {
  columns = 80;
  rows = 24;
  isTTY = true;
  /** Frames drawn: writes that carry screen content (Ink also writes cursor and synchronized-output codes). */
  writes = 0;
  bytes = 0;
  firstAt?: number;
  write(chunk: string) {
    const n = Buffer.byteLength(chunk);
    this.bytes += n;
    if (n > 64) {
      this.writes++;
      this.firstAt ??= performance.now();
    }
    return true;
  }
}

class Keys extends EventEmitter {
  isTTY = true;
  setRawMode() {}
  setEncoding() {}
  ref() {}
  unref() {}
  read() {
    return null;
  }
}

const options = (stdout: Screen, kind: ConsoleKind) => renderOptions(kind, stdout as unknown as NodeJS.WriteStream, new Keys() as unknown as NodeJS.ReadStream);

async function firstFrameOfInstaller(): Promise<number> {
  const stdout = new Screen();
  const h = makeSession();
  const t0 = performance.now();
  const app = render(createElement(App, { session: h.session, kind: 'linux', size: { columns: 80, rows: 24 }, onExit: () => undefined }), options(stdout, 'linux'));
  while (stdout.firstAt === undefined) await sleep(1);
  const ms = stdout.firstAt - t0;
  app.unmount();
  return ms;
}

async function flood(eventsPerSecond: number, seconds: number, kind: 'linux' | 'serial' = 'linux') {
  const stdout = new Screen();
  let push: (e: InstallEvent) => void = () => undefined;
  const t0 = performance.now();
  const app = render(
    createElement(WatchApp, {
      subscribe: (p: (e: InstallEvent) => void) => {
        push = p;
        return () => undefined;
      },
      kind,
      size: { columns: 80, rows: 24 },
      source: 'bench',
      onExit: () => undefined,
    }),
    options(stdout, kind),
  );
  while (stdout.firstAt === undefined) await sleep(1);
  const firstFrameMs = stdout.firstAt - t0;
  const at = () => new Date().toISOString();
  push({ type: 'step-start', at: at(), step: 'image-linux.service', title: 'Pull the image and unpack it onto the disk' });
  push({ type: 'command', at: at(), step: 'image-linux.service', command: 'tar --extract --file=- --directory=/run/shoal-install/target-x --numeric-owner --xattrs --acls' });
  await sleep(200);
  const total = 4 * 1024 ** 3;
  const writes0 = stdout.writes;
  const bytes0 = stdout.bytes;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const tickMs = 10;
  let sent = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * eventsPerSecond);
    for (; sent < due; sent++) {
      const bytes = Math.min(total, sent * 1024 * 1024);
      push({ type: 'progress', at: at(), step: 'image-linux.service', bytes, total, rate: 120 * 1024 * 1024, etaSeconds: (total - bytes) / (120 * 1024 * 1024) });
      if (sent % 50 === 0) push({ type: 'log', at: at(), level: 'info', step: 'image-linux.service', message: `still unpacking, ${sent} events in` });
    }
    await sleep(tickMs);
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  app.unmount();
  return {
    firstFrameMs,
    events: sent,
    framesPerSecond: (stdout.writes - writes0) / elapsed,
    kbPerSecond: (stdout.bytes - bytes0) / 1024 / elapsed,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (elapsed * 1000)) * 100,
  };
}

const installer = await firstFrameOfInstaller();
console.log(`time to first frame, installer (Machine screen): ${installer.toFixed(1)} ms`);
for (const [rate, label] of [
  [4, 'the engine (4 progress events/s)'],
  [100, '100 events/s'],
  [2000, 'a flood (2000 events/s)'],
  [20000, 'a replayed log (20000 events/s)'],
] as const) {
  const r = await flood(rate, 3);
  console.log(
    `linux VT, ${label.padEnd(34)} first frame ${r.firstFrameMs.toFixed(1).padStart(6)} ms, ${String(r.events).padStart(6)} events -> ` +
      `${r.framesPerSecond.toFixed(1).padStart(5)} frames/s, ${r.kbPerSecond.toFixed(1).padStart(6)} KB/s to the terminal, CPU ${r.cpuPercent.toFixed(0).padStart(3)}%`,
  );
}
for (const [rate, label] of [
  [4, 'the engine (4 progress events/s)'],
  [2000, 'a flood (2000 events/s)'],
] as const) {
  const r = await flood(rate, 3, 'serial');
  console.log(
    `serial,   ${label.padEnd(34)} first frame ${r.firstFrameMs.toFixed(1).padStart(6)} ms, ${String(r.events).padStart(6)} events -> ` +
      `${r.framesPerSecond.toFixed(1).padStart(5)} frames/s, ${r.kbPerSecond.toFixed(1).padStart(6)} KB/s to the terminal (115200 baud carries ~11 KB/s)`,
  );
}
process.exit(0);
