/**
 * The VM's VGA screen (tty1, the BMC's virtual KVM) as a test reads it: PNG screendumps through the qemu monitor,
 * read as text by tesseract OCR. Slower and fuzzier than a serial line, so assertions on OCR text look for words
 * and numbers, never for box glyphs or exact spacing.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { progress } from './log.ts';
import type { Vm } from './qemu.ts';
import { sh } from './sh.ts';

/**
 * The text on a screendump. Tesseract reads dark text on a light page best, and a console's 8x16 glyphs better at
 * twice the size (netpbm: grey, inverted, scaled); --psm 6 (one block of text) keeps the rows in order.
 */
export function ocr(png: string): Promise<string> {
  return sh(['bash', '-o', 'pipefail', '-c', 'pngtopnm "$1" | ppmtopgm | pnminvert | pamscale 2 | tesseract - - --psm 6 2>/dev/null', 'ocr', png]);
}

/** Screendump to `png`, then OCR it. */
export async function readScreen(vm: Vm, png: string): Promise<string> {
  await vm.screendump(png);
  return ocr(png);
}

/** Waits until the screen's text passes `test` (one look every `everyMs`); the last text and its PNG come back either way. */
export async function waitForScreen(vm: Vm, png: string, test: (text: string) => boolean, timeoutMs: number, everyMs = 5000): Promise<{ ok: boolean; text: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readScreen(vm, png).catch((e: Error) => `(no screen: ${e.message})`);
    if (test(text)) return { ok: true, text };
    if (Date.now() > deadline) return { ok: false, text };
    await sleep(everyMs);
  }
}

/**
 * Screendumps every `everyMs` between start() and stop(), kept in `dir` when they differ from the one before:
 * OCR costs a CPU-second a picture, so the test reads them once the VM is done (firstShowing).
 */
export class ScreenRecorder {
  readonly files: string[] = [];
  private running?: Promise<void>;
  private stopping = false;
  private last = '';

  constructor(
    private readonly vm: Vm,
    private readonly dir: string,
    private readonly name: string,
    private readonly everyMs = 3000,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = (async () => {
      for (let n = 0; !this.stopping; n++) {
        const png = join(this.dir, `${this.name}-${String(n).padStart(3, '0')}.png`);
        try {
          await this.vm.screendump(png);
          const hash = createHash('sha256')
            .update(await readFile(png))
            .digest('hex');
          if (hash !== this.last) this.files.push(png);
          this.last = hash;
        } catch (e) {
          // The VM went away between two looks: nothing more to record.
          progress(`${this.name}: screendump failed: ${(e as Error).message}`);
          return;
        }
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }
}

/** The first of `pngs` whose OCR text passes `test`, with that text; or undefined with the last text read. */
export async function firstShowing(pngs: readonly string[], test: (text: string) => boolean): Promise<{ png?: string; text: string }> {
  let text = '';
  for (const png of pngs) {
    text = await ocr(png);
    if (test(text)) return { png, text };
  }
  return { text };
}

/** With SHOAL_UPDATE_SCREENS=1, copies a screendump to docs/screens/NAME for the README (as the console tests do with text screens). */
export async function keepForDocs(png: string, name: string): Promise<void> {
  if (process.env.SHOAL_UPDATE_SCREENS !== '1') return;
  const docs = join(dirname(fileURLToPath(import.meta.url)), '../../../docs/screens');
  await mkdir(docs, { recursive: true });
  await copyFile(png, join(docs, name));
  progress(`wrote docs/screens/${name}`);
}
