// Parse wimapply's progress output (stdout) into events.
//
// wimlib-imagex (programs/imagex.c, imagex_progress_func) prints, with "\r"
// before each update and "\n" after the last one of a phase, even when stdout
// is not a terminal:
//   Applying image 1 ("NAME") from "WIM" to NTFS volume "TARGET"      (or: to directory "TARGET")
//   \rCreating files: 500 of 2103 (23%) done              only when >= 2000 files
//   \rExtracting file data: 41 MiB of 41 MiB (100%) done
//   \rApplying metadata to files: 28297 of 28297 (100%) done   only when >= 2000 files
//   Done applying WIM image.
// Byte counts are shifted down to the unit, so they are truncated: the unit
// is chosen from the total (get_unit): GiB if total >= 10^10 bytes, MiB if
// >= 10^7, KiB if >= 10^4, else "bytes". Seen with wimlib 1.13.5: NTFS-volume
// applies print "Creating files" but no "Applying metadata" lines; directory
// applies print neither (only "Extracting file data").
// Warnings and errors go to stderr; this parser can split those lines too.

export type WimApplyPhase = 'creating-files' | 'extracting-data' | 'applying-metadata';
export type WimByteUnit = 'bytes' | 'KiB' | 'MiB' | 'GiB';

export type WimApplyEvent =
  | { phase: 'start'; image: number; imageName: string; wimFile: string; targetKind: 'ntfs' | 'directory'; target: string }
  | {
      phase: WimApplyPhase;
      /** Count as printed: files, or bytes in `unit`. */
      done: number;
      total: number;
      percent: number;
      /** For 'extracting-data' the unit printed; files otherwise. */
      unit: WimByteUnit | 'files';
      /** 'extracting-data' only: done and total in bytes (done * unit, so truncated down to a unit). */
      doneBytes?: number;
      totalBytes?: number;
    }
  | { phase: 'done' }
  | { phase: 'message'; line: string };

const UNIT_BYTES: Record<WimByteUnit, number> = { bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

const COUNT_RE = /^(Creating files|Applying metadata to files): (\d+) of (\d+) \((\d+)%\) done$/;
const BYTES_RE = /^Extracting file data: (\d+) (bytes|KiB|MiB|GiB) of (\d+) (bytes|KiB|MiB|GiB) \((\d+)%\) done$/;
const START_RE = /^Applying image (\d+) \("(.*)"\) from "(.*)" to (NTFS volume|directory) "(.*)"$/;

/** Parse one complete line (without its "\r" or "\n"). Empty lines give null. */
export function parseWimApplyLine(rawLine: string): WimApplyEvent | null {
  const line = rawLine.trim();
  if (line === '') return null;
  let m = BYTES_RE.exec(line);
  if (m) {
    const unit = m[2] as WimByteUnit;
    const done = Number(m[1]);
    const total = Number(m[3]);
    return {
      phase: 'extracting-data',
      done,
      total,
      percent: Number(m[5]),
      unit,
      doneBytes: done * UNIT_BYTES[unit],
      totalBytes: total * UNIT_BYTES[m[4] as WimByteUnit],
    };
  }
  m = COUNT_RE.exec(line);
  if (m) {
    return {
      phase: m[1] === 'Creating files' ? 'creating-files' : 'applying-metadata',
      done: Number(m[2]),
      total: Number(m[3]),
      percent: Number(m[4]),
      unit: 'files',
    };
  }
  if (line === 'Done applying WIM image.') return { phase: 'done' };
  m = START_RE.exec(line);
  if (m) {
    return {
      phase: 'start',
      image: Number(m[1]),
      imageName: m[2] as string,
      wimFile: m[3] as string,
      targetKind: m[4] === 'NTFS volume' ? 'ntfs' : 'directory',
      target: m[5] as string,
    };
  }
  return { phase: 'message', line };
}

/** Splits a byte stream into lines at "\r", "\n" or "\r\n"; keeps a partial line (and partial UTF-8) between chunks. */
export class LineSplitter {
  private pending = '';
  private endedWithCR = false;
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: Uint8Array | string): string[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text === '') return [];
    // "\r" ending the previous chunk and "\n" starting this one are one "\r\n".
    if (this.endedWithCR && text.startsWith('\n')) text = text.slice(1);
    this.endedWithCR = text.endsWith('\r');
    const parts = (this.pending + text).split(/\r\n|\r|\n/);
    this.pending = parts.pop() ?? '';
    return parts;
  }

  /** The last line, if the stream did not end with a line break. */
  end(): string[] {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    return rest === '' ? [] : [rest];
  }
}

/** Stateful parser: feed stdout chunks, get events (empty lines are skipped). */
export class WimApplyProgressParser {
  private readonly lines = new LineSplitter();

  push(chunk: Uint8Array | string): WimApplyEvent[] {
    return this.toEvents(this.lines.push(chunk));
  }

  end(): WimApplyEvent[] {
    return this.toEvents(this.lines.end());
  }

  private toEvents(lines: string[]): WimApplyEvent[] {
    const out: WimApplyEvent[] = [];
    for (const l of lines) {
      const e = parseWimApplyLine(l);
      if (e) out.push(e);
    }
    return out;
  }
}
