/**
 * The console installer's one door into the engine. The TUI (tui/) renders and asks; everything that reads
 * the machine, talks to the registry, plans, runs, aborts or powers off happens here. No React in this file.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { networkInterfaces, release } from 'node:os';
import { join } from 'node:path';
import { contentsSummary } from './disk-contents.ts';
import { chooseByHints, describeHints, HintsRefused, type DiskHints } from './disk-hints.ts';
import { chooseTarget } from './disk-target.ts';
import { DiskError, inspectDisk, listDisks, type DiskFacts } from './disks.ts';
import { now, parseEventLine, type EventSink, type InstallEvent, type InstallResult } from './events.ts';
import { run } from './exec.ts';
import { machineFacts, type MachineFacts } from './machine.ts';
import { DEFAULT_LOG_DIR, defaultLogPath, jsonLog } from './outputs/json-log.ts';
import { resolveSecretText } from './payload.ts';
import { makePlan, PlanRefused, type Plan, type PlanOptions, type StepName } from './plan.ts';
import { renderPlan } from './plan-text.ts';
import { lockDisk, type DiskLock } from './disk-lock.ts';
import { prepareInstall, type Prepared, type PrepareOptions } from './prepare.ts';
import { parseRecipe, RecipeError, type Recipe, type RecipeInput } from './recipe.ts';
import { runPlan, type StepImpl } from './runner.ts';
import { formatBytes } from './sizes.ts';
import { resumePoint, STEPS } from './steps/index.ts';
import { openRegistry, type BrowserOptions, type RegistryBrowser, type RegistryCredentials } from './console-registry.ts';

export type { ImageInfo, RegistryBrowser, RegistryCredentials, RegistryState } from './console-registry.ts';
export { RegistryAuthRequired } from './console-registry.ts';

/** Exit codes of the console (`shoal-install` with no arguments), for the systemd unit that runs it on tty1. */
export const CONSOLE_EXIT = {
  /** Installed; a reboot or power-off was requested (or the technician left the finished screen). */
  done: 0,
  /** The install failed and the technician left. */
  failed: 1,
  /** Not started: stdin/stdout are not terminals, or bad arguments. */
  badInput: 2,
  /** The technician asked for a shell: the unit should start a login shell on this console. */
  shell: 10,
  /** The technician quit before installing (or Ctrl+C). */
  quit: 130,
} as const;

export interface NetInterface {
  name: string;
  mac?: string;
  state?: string;
  addresses: string[];
}

export interface MachineInfo {
  serial: string;
  vendor?: string;
  product?: string;
  uefi: boolean;
  efivars: boolean;
  memoryBytes?: number;
  kernel: string;
  interfaces: NetInterface[];
  filesystems: string[];
}

export interface DiskChoice {
  facts: DiskFacts;
  /** Why it cannot be picked (boot medium, mounted, read-only...); empty when it can. */
  blockers: string[];
  bootMedium: boolean;
  /** What lsblk suggests is on it now (e.g. `Linux: ext4 "root", EFI`), if anything. */
  found?: string;
  /** Offered because the command line named it (`--disk FILE`), not found by lsblk. */
  extra: boolean;
  /** With a recipe's target_disk_hints: chosen by them, matching them among others (refused), or ruled out, and why. */
  hint?: HintVerdict;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reasons: string[] };

export interface Review {
  prepared: Prepared;
  /** The very text `shoal-install plan` prints. */
  text: string;
  /** What the technician must type to confirm: the disk's name (`sda`, or the image file's name). */
  confirmName: string;
  /** What is on the disk now, in one line (the OS found, or the data), shown beside the typed confirmation. */
  onDisk?: string;
  destroyed: string[];
  /** Every step with its title, the ones left out (--stop-before) included, in order. */
  steps: { step: StepName; title: string }[];
}

export interface InstallRun {
  /** Ask the runner to stop; it kills what it started and releases mounts and loop devices. */
  abort(reason?: string): void;
  readonly done: Promise<InstallResult>;
  readonly logPath?: string;
}

export interface ConsoleOptions {
  /** `--disk`: offered in the disk list beside what lsblk finds (a disk image file, or a device). */
  extraDisks?: string[];
  /** `--registry HOST[:PORT]`, else SHOAL_REGISTRY, else the recipe's registry. */
  registry?: string;
  plainHttp?: string[];
  /** `--stop-before STEP`: planned and run without this step and those after it. */
  stopBefore?: StepName;
  /** The directory for each install's JSON-lines log; false writes none (tests). Default /var/log/shoal-install. */
  logDir?: string | false;
  /** `--log FILE`: every install (and retry) of this session appends to this file instead. */
  logFile?: string;
}

/** What the session needs from the machine; tests replace parts of it, the console uses the real engine. */
export interface ConsoleDeps {
  listDisks: () => Promise<DiskFacts[]>;
  inspectDisk: (path: string) => Promise<DiskFacts>;
  /** Hold the disk for one install (throws DiskBusy when another install holds it). */
  lockDisk: (path: string) => Promise<DiskLock | undefined>;
  machineFacts: () => Promise<MachineFacts>;
  machineInfo: (facts: MachineFacts) => Promise<MachineInfo>;
  prepare: (recipe: Recipe, opts: PrepareOptions) => Promise<Prepared>;
  steps: Record<StepName, StepImpl>;
  registry: (host: string, opts: BrowserOptions) => RegistryBrowser;
  power: (action: 'reboot' | 'poweroff') => Promise<void>;
}

const readText = (p: string) => readFile(p, 'utf8').then((t) => t.trim(), () => '');

async function readInterfaces(): Promise<NetInterface[]> {
  const byName = new Map<string, NetInterface>();
  const names = await readdir('/sys/class/net').catch(() => [] as string[]);
  for (const name of names.sort()) {
    if (name === 'lo') continue;
    const mac = await readText(`/sys/class/net/${name}/address`);
    const state = await readText(`/sys/class/net/${name}/operstate`);
    byName.set(name, { name, mac: mac || undefined, state: state || undefined, addresses: [] });
  }
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === 'lo' || !addrs) continue;
    const entry = byName.get(name) ?? { name, addresses: [] };
    entry.mac ??= addrs.find((a) => a.mac && a.mac !== '00:00:00:00:00:00')?.mac;
    entry.addresses.push(...addrs.filter((a) => !a.internal).map((a) => a.cidr ?? a.address));
    byName.set(name, entry);
  }
  return [...byName.values()];
}

async function readMachineInfo(facts: MachineFacts): Promise<MachineInfo> {
  const mem = /^MemTotal:\s+(\d+)\s+kB/m.exec(await readText('/proc/meminfo'));
  return {
    serial: facts.serial,
    vendor: (await readText('/sys/class/dmi/id/sys_vendor')) || undefined,
    product: (await readText('/sys/class/dmi/id/product_name')) || undefined,
    uefi: facts.uefi,
    efivars: facts.efivars,
    memoryBytes: mem ? Number(mem[1]) * 1024 : undefined,
    kernel: release(),
    interfaces: await readInterfaces(),
    filesystems: facts.filesystems,
  };
}

async function systemPower(action: 'reboot' | 'poweroff'): Promise<void> {
  await run(['systemctl', action]);
}

export const REAL_DEPS: ConsoleDeps = {
  listDisks,
  inspectDisk,
  lockDisk,
  machineFacts,
  machineInfo: readMachineInfo,
  prepare: prepareInstall,
  steps: STEPS,
  registry: (host, opts) => openRegistry(host, opts),
  power: systemPower,
};

const q = (s: string) => `"${s}"`;

/** What is on a disk now, as far as lsblk's partition table, filesystem types and labels tell. */
export function foundOnDisk(d: DiskFacts): string | undefined {
  const parts = d.partitions;
  if (!parts.length) return d.partitionTable ? `an empty ${d.partitionTable} partition table` : undefined;
  const type = (p: (typeof parts)[number]) => (p.typeName ?? '').toLowerCase();
  const has = (f: (p: (typeof parts)[number]) => boolean) => parts.some(f);
  const esp = has((p) => type(p).includes('efi system') || (p.fstype === 'vfat' && /^(efi|esp|system)$/i.test(p.label ?? '')));
  const extras = esp ? ', EFI' : '';
  if (has((p) => p.fstype === 'ntfs' || type(p).includes('microsoft reserved'))) {
    const win = parts.find((p) => p.fstype === 'ntfs');
    return `Windows?: NTFS${win?.label ? ` ${q(win.label)}` : ''}${extras}`;
  }
  if (has((p) => (p.fstype ?? '').toLowerCase().includes('vmfs') || type(p).includes('vmware'))) return 'VMware ESXi?';
  if (has((p) => p.fstype === 'LVM2_member')) return `Linux?: LVM${extras}`;
  if (has((p) => p.fstype === 'linux_raid_member')) return `a RAID member${extras}`;
  if (has((p) => p.fstype === 'zfs_member')) return 'ZFS pool member';
  const linux = parts.find((p) => ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs'].includes(p.fstype ?? ''));
  if (linux) return `Linux?: ${linux.fstype}${linux.label ? ` ${q(linux.label)}` : ''}${extras}`;
  const fs = [...new Set(parts.map((p) => p.fstype).filter(Boolean))];
  return fs.length ? `filesystems: ${fs.join(', ')}` : `${parts.length} partition(s), no filesystem found`;
}

function choiceOf(d: DiskFacts, extra: boolean): DiskChoice {
  const blockers = [...(d.readOnly ? ['the disk is read-only'] : []), ...d.inUse];
  return { facts: d, blockers, bootMedium: d.bootMedium, found: foundOnDisk(d), extra };
}

export interface HintVerdict {
  verdict: 'chosen' | 'matches' | 'ruled out';
  reasons: string[];
}

/** The hints' verdict on each disk: the one they chose, and what ruled out each other one. */
function hintVerdicts(hints: DiskHints, disks: DiskFacts[]): Map<string, HintVerdict> {
  const out = new Map<string, HintVerdict>();
  let ruledOut;
  try {
    const choice = chooseByHints(hints, disks);
    out.set(choice.disk.path, { verdict: 'chosen', reasons: [choice.why] });
    ruledOut = choice.ruledOut;
  } catch (e) {
    if (!(e instanceof HintsRefused)) throw e;
    ruledOut = e.ruledOut;
  }
  for (const r of ruledOut) out.set(r.path, { verdict: 'ruled out', reasons: r.reasons });
  // Refused for several matches: the ones left over match, and none is chosen.
  for (const d of disks) if (!out.has(d.path)) out.set(d.path, { verdict: 'matches', reasons: [`matches ${describeHints(hints)}, as another disk does: add a criterion`] });
  return out;
}

const refusal = (e: unknown): string[] | undefined => {
  if (e instanceof PlanRefused) return e.reasons;
  if (e instanceof RecipeError) return e.problems;
  if (e instanceof DiskError) return [e.message];
  return undefined;
};

/** The registry host part of an image reference (`host[:port]/repo...`). */
export function registryOf(reference: string | undefined): string | undefined {
  if (!reference) return undefined;
  const first = reference.split('/')[0] ?? '';
  return reference.includes('/') && /[.:]|^localhost$/.test(first) ? first : undefined;
}

export class ConsoleSession {
  private facts?: Promise<MachineFacts>;
  private diskCache = new Map<string, DiskFacts>();
  private registryHost?: string;
  private credentials?: RegistryCredentials;
  private browser?: RegistryBrowser;
  private recipePlainHttp: string[] = [];
  private caFile?: string;
  private credentialsFromRecipe = false;
  /** The disk lock recheck took, for the run that follows it. */
  private held?: DiskLock;
  /** The target_disk_hints of the recipe the console was opened with: the Disk screen marks their verdicts. */
  private hints?: DiskHints;
  readonly deps: ConsoleDeps;

  constructor(
    readonly options: ConsoleOptions = {},
    deps: Partial<ConsoleDeps> = {},
  ) {
    this.deps = { ...REAL_DEPS, ...deps };
    this.registryHost = options.registry ?? (process.env.SHOAL_REGISTRY || undefined);
  }

  private engineFacts(): Promise<MachineFacts> {
    this.facts ??= this.deps.machineFacts();
    return this.facts;
  }

  async machine(): Promise<MachineInfo> {
    return this.deps.machineInfo(await this.engineFacts());
  }

  /** Every disk, the `--disk` ones first; the ones that must not be written carry the reasons. */
  async disks(): Promise<DiskChoice[]> {
    const extra: DiskChoice[] = [];
    for (const path of this.options.extraDisks ?? []) {
      const d = await this.deps.inspectDisk(path).catch((e: Error) => {
        throw new DiskError(`--disk ${path}: ${e.message}`);
      });
      extra.push(choiceOf(d, true));
    }
    const found = (await this.deps.listDisks()).filter((d) => !extra.some((x) => x.facts.path === d.path)).map((d) => choiceOf(d, false));
    const all = [...extra, ...found];
    for (const c of all) this.diskCache.set(c.facts.path, c.facts);
    if (this.hints) {
      const verdicts = hintVerdicts(this.hints, all.map((c) => c.facts));
      for (const c of all) c.hint = verdicts.get(c.facts.path);
    }
    return all;
  }

  /** The disk a recipe names (a device, a by-id/by-path name, or target_disk_hints); its hints mark the Disk screen from now on. */
  async recipeDisk(recipe: Recipe): Promise<DiskChoice> {
    this.hints = recipe.target_disk_hints;
    const target = await chooseTarget(recipe.target_disk, recipe.target_disk_hints, { listDisks: () => this.deps.listDisks() });
    const choice = await this.disk(target.path);
    return this.hints ? { ...choice, hint: { verdict: 'chosen', reasons: [target.why] } } : choice;
  }

  /** A disk the recipe names: from the last listing, or inspected now. */
  async disk(path: string): Promise<DiskChoice> {
    const extra = (this.options.extraDisks ?? []).includes(path);
    const facts = this.diskCache.get(path) ?? (await this.deps.inspectDisk(path));
    this.diskCache.set(path, facts);
    return choiceOf(facts, extra);
  }

  // --- the registry -------------------------------------------------------------------------------------

  registry(): { host?: string; authenticated: boolean; user?: string } {
    return { host: this.registryHost, authenticated: !!this.credentials, user: this.credentials?.username };
  }

  /** Browse this registry from now on (typed by the technician, or the host of a recipe's image). */
  useRegistry(host: string | undefined, credentials?: RegistryCredentials): void {
    if (host !== this.registryHost) this.dropBrowser();
    this.registryHost = host || undefined;
    if (credentials) this.setCredentials(credentials);
  }

  setCredentials(credentials: RegistryCredentials | undefined): void {
    this.credentials = credentials;
    this.credentialsFromRecipe = false;
    this.dropBrowser();
  }

  private dropBrowser() {
    void this.browser?.close().catch(() => undefined);
    this.browser = undefined;
  }

  /** Credentials and trust named in a recipe (`registry.username`/`password`, `plain_http`, `ca_file`). */
  async adoptRecipeRegistry(recipe: Recipe): Promise<void> {
    this.registryHost ??= registryOf(recipe.oci_url);
    const reg = recipe.registry;
    this.recipePlainHttp = reg?.plain_http ?? [];
    this.caFile = reg?.ca_file;
    if (reg?.username && reg.password !== undefined) {
      const password = await resolveSecretText(reg.password, 'registry.password').catch(() => '');
      this.setCredentials({ username: reg.username, password });
      this.credentialsFromRecipe = true;
    }
  }

  private browserOptions(): BrowserOptions {
    return { plainHttp: [...(this.options.plainHttp ?? []), ...this.recipePlainHttp], credentials: this.credentials, caFile: this.caFile };
  }

  private client(host = this.registryHost): RegistryBrowser {
    if (!host) throw new Error('no registry is set: press h to name one (HOST:PORT), or type a full image reference');
    if (host !== this.registryHost) return this.deps.registry(host, this.browserOptions());
    this.browser ??= this.deps.registry(host, this.browserOptions());
    return this.browser;
  }

  /** Credentials typed at the console reach the install as the recipe's registry credentials (never shown). */
  private withConsoleCredentials(recipe: Recipe): Recipe {
    if (!this.credentials || this.credentialsFromRecipe || registryOf(recipe.oci_url) !== this.registryHost) return recipe;
    return { ...recipe, registry: { ...recipe.registry, username: this.credentials.username, password: { content: this.credentials.password } } };
  }

  async close(): Promise<void> {
    this.held?.release();
    this.dropBrowser();
  }

  /** Does the registry answer? `auth` means it does but wants credentials. */
  async registryState() {
    if (!this.registryHost) return { host: undefined, state: 'unset' as const };
    return { host: this.registryHost, ...(await this.client().ping()) };
  }

  repositories(): Promise<string[]> {
    return this.client().repositories();
  }

  tags(repository: string): Promise<string[]> {
    return this.client().tags(repository);
  }

  /** Manifest facts for a reference (`repo:tag` on the current registry, or a full `host/repo:tag`). */
  inspectImage(reference: string) {
    const host = registryOf(reference);
    const full = host ? reference : `${this.registryHost ?? ''}/${reference}`;
    return this.client(host ?? this.registryHost).inspect(full);
  }

  // --- planning -----------------------------------------------------------------------------------------

  private planOptions(): PlanOptions {
    return { stopBefore: this.options.stopBefore };
  }

  /** The engine's own checks on a draft recipe against a disk, without touching anything (for live editing). */
  async check(draft: RecipeInput, disk: DiskFacts): Promise<Checked<Plan>> {
    try {
      const recipe = parseRecipe(draft);
      return { ok: true, value: makePlan(recipe, disk, await this.engineFacts(), this.planOptions()) };
    } catch (e) {
      const reasons = refusal(e);
      if (reasons) return { ok: false, reasons };
      throw e;
    }
  }

  /** What `shoal-install plan` would print for this recipe: disk inspected now, payload files read now. */
  async review(draft: RecipeInput): Promise<Checked<Review>> {
    try {
      const recipe = this.withConsoleCredentials(parseRecipe(draft));
      const prepared = await this.deps.prepare(recipe, { ...this.planOptions(), plainHttp: this.options.plainHttp, machine: await this.engineFacts() });
      const d = prepared.plan.disk;
      const destroyed = d.partitions.length
        ? d.partitions.map((p) => `${p.path} ${formatBytes(p.sizeBytes)}${p.fstype ? ` ${p.fstype}` : ''}${p.label ? ` "${p.label}"` : ''}`)
        : [`everything on ${d.path}`];
      const steps = [...prepared.plan.steps, ...prepared.plan.skipped].map((step) => ({ step, title: this.deps.steps[step].title }));
      const onDisk = prepared.plan.contents ? contentsSummary(prepared.plan.contents) : undefined;
      return { ok: true, value: { prepared, text: renderPlan(prepared.plan), confirmName: d.name, destroyed, steps, ...(onDisk ? { onDisk } : {}) } };
    } catch (e) {
      const reasons = refusal(e);
      if (reasons) return { ok: false, reasons };
      return { ok: false, reasons: [(e as Error).message] };
    }
  }

  // --- running ------------------------------------------------------------------------------------------

  /**
   * Look at the disk once more just before writing: if something mounted it (or it went read-only) since
   * the review, the reasons; nothing is written.
   */
  async recheck(review: Review): Promise<string[] | undefined> {
    const { plan } = review.prepared;
    this.held?.release();
    const held = await this.deps.lockDisk(plan.disk.path).catch((e: Error) => e);
    if (held instanceof Error) return [held.message];
    const now = await this.deps.inspectDisk(plan.disk.path).catch((e: Error) => ({ inUse: [e.message], readOnly: false }) as Pick<DiskFacts, 'inUse' | 'readOnly'>);
    const blockers = [...(now.readOnly ? [`${plan.disk.path} is read-only`] : []), ...now.inUse.map((r) => `${plan.disk.path} is in use: ${r}`)];
    if (blockers.length) {
      held?.release();
      return blockers;
    }
    this.held = held;
    return undefined;
  }

  /**
   * Run the reviewed plan now; events go to `onEvent` and to the JSON-lines log. After a failed attempt
   * (`previous`), a retry starts at the failed step where that is safe (resumePoint).
   */
  run(review: Review, onEvent: EventSink, previous?: InstallResult): InstallRun {
    const { plan, inputs, secrets } = review.prepared;
    const ctl = new AbortController();
    const dir = this.options.logDir;
    const logPath = this.options.logFile ?? (dir === false ? undefined : dir ? join(dir, defaultLogPath().split('/').pop()!) : defaultLogPath());
    let log: ReturnType<typeof jsonLog> | undefined;
    try {
      log = logPath ? jsonLog(logPath) : undefined;
    } catch {
      log = undefined;
    }
    const sink: EventSink = (e) => {
      log?.sink(e);
      onEvent(e);
    };
    const resumeFrom = previous && !previous.ok ? resumePoint(plan, previous.failedStep) : undefined;
    const lock = this.held;
    this.held = undefined;
    const done = runPlan(plan, { steps: this.deps.steps, inputs, secrets, resumeFrom, signal: ctl.signal, disk: lock, onEvent: sink }).finally(() => {
      lock?.release();
      return log?.close();
    });
    return { abort: (reason = 'aborted at the console') => ctl.abort(new Error(reason)), done, logPath: log ? logPath : undefined };
  }

  /** recheck, then run. */
  async install(review: Review, onEvent: EventSink): Promise<Checked<InstallRun>> {
    const reasons = await this.recheck(review);
    if (reasons) return { ok: false, reasons };
    return { ok: true, value: this.run(review, onEvent) };
  }

  power(action: 'reboot' | 'poweroff'): Promise<void> {
    return this.deps.power(action);
  }

  /** Does a file the technician named exist (user-data, unattend.xml)? Its size only, never its content. */
  async fileInfo(path: string): Promise<{ ok: boolean; detail: string }> {
    if (!path.startsWith('/')) return { ok: false, detail: 'give an absolute path' };
    const st = await stat(path).catch((e: NodeJS.ErrnoException) => e);
    if (st instanceof Error) return { ok: false, detail: `cannot read it (${st.code ?? st.message})` };
    if (!st.isFile()) return { ok: false, detail: 'not a regular file' };
    return { ok: true, detail: `${formatBytes(st.size)}` };
  }
}

// --- the console itself ---------------------------------------------------------------------------------

/**
 * A serial console often reports 0x0. Ink then clears the screen on every frame, so give the terminal a size
 * (the kernel's too, via stty, so the shell after us agrees) and fall back to 80x24.
 */
export function ensureTerminalSize(stdout: NodeJS.WriteStream, fallback = { columns: 80, rows: 24 }): { columns: number; rows: number; guessed: boolean } {
  const guessed = !stdout.columns || !stdout.rows;
  if (guessed) {
    const columns = stdout.columns || fallback.columns;
    const rows = stdout.rows || fallback.rows;
    spawnSync('stty', ['cols', String(columns), 'rows', String(rows)], { stdio: ['inherit', 'ignore', 'ignore'] });
    Object.assign(stdout, { columns, rows });
  }
  return { columns: stdout.columns, rows: stdout.rows, guessed };
}

// --- watch mode: follow an install's JSON-lines log -----------------------------------------------------

/** The newest install log in the log directory (auto mode writes one per run). */
export async function latestLog(dir = DEFAULT_LOG_DIR): Promise<string | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl')).sort();
  return files.length ? join(dir, files.at(-1)!) : undefined;
}

/**
 * Follow the newest install log in `dir`, waiting for one to appear: on tty1 the watch starts at boot, before auto
 * mode has opened its log (it opens one at its start, and ends it with a result even when the job is refused).
 */
export async function followLatestLog(onEvent: (e: InstallEvent) => void, signal: AbortSignal, dir = DEFAULT_LOG_DIR, pollMs = 250): Promise<void> {
  while (!signal.aborted) {
    const path = await latestLog(dir);
    if (path) return followLog(path, onEvent, signal, pollMs);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Replay a JSON-lines log from the start and keep following it until `signal` aborts or a result arrives. A line
 * that is not an event of this stream version is reported as a warning, never passed on as an event.
 */
export async function followLog(path: string, onEvent: (e: InstallEvent) => void, signal: AbortSignal, pollMs = 250): Promise<void> {
  let offset = 0;
  let pending = '';
  let lineNo = 0;
  while (!signal.aborted) {
    const size = await stat(path).then((s) => s.size, () => 0);
    if (size > offset) {
      const chunk = await new Promise<string>((resolve, reject) => {
        let text = '';
        createReadStream(path, { start: offset, end: size - 1, encoding: 'utf8' })
          .on('data', (d) => (text += d))
          .on('end', () => resolve(text))
          .on('error', reject);
      });
      offset = size;
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        lineNo++;
        if (!line.trim()) continue;
        const read = parseEventLine(line);
        if ('problem' in read) {
          onEvent({ type: 'log', at: now(), level: 'warn', message: `${path} line ${lineNo} is not an install event (${read.problem}); skipped` });
          continue;
        }
        onEvent(read.event);
        if (read.event.type === 'result') return;
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
