/**
 * The console installer's one door into the engine. The TUI (tui/) renders and asks; everything that reads
 * the machine, talks to the registry, plans, runs, aborts or powers off happens here. No React in this file.
 */
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { contentsSummary } from './disk-contents.ts';
import { hintVerdicts, type DiskHints, type HintVerdict } from './disk-hints.ts';
import { chooseTarget } from './disk-target.ts';
import { DiskError, foundOnDisk, inspectDisk, listDisks, type DiskFacts } from './disks.ts';
import type { EventSink, InstallResult } from './events.ts';
import { ImageSession } from './image-source.ts';
import { install } from './install.ts';
import { machineFacts, readMachineInfo, systemPower, type MachineFacts, type MachineInfo, type PowerAction } from './machine.ts';
import { classifyError } from './outcome.ts';
import { defaultLogPath } from './outputs/json-log.ts';
import { openOutputs } from './outputs/outputs.ts';
import { resolveSecretText } from './payload.ts';
import { makePlan, type Plan, type PlanOptions, type StepName } from './plan.ts';
import { renderPlan } from './plan-text.ts';
import { lockDisk, type DiskLock } from './disk-lock.ts';
import { prepareInstall, type Prepared, type PrepareOptions } from './prepare.ts';
import { parseRecipe, type Recipe, type RecipeInput } from './recipe.ts';
import type { StepImpl } from './runner.ts';
import { formatBytes } from './sizes.ts';
import { resumePoint, STEPS } from './steps/index.ts';
import { openRegistry, type BrowserOptions, type RegistryBrowser, type RegistryCredentials } from './console-registry.ts';

export type { ImageInfo, RegistryBrowser, RegistryCredentials, RegistryState } from './console-registry.ts';
export { RegistryAuthRequired } from './console-registry.ts';
export type { HintVerdict } from './disk-hints.ts';
export type { MachineInfo, NetInterface } from './machine.ts';

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
  power: (action: PowerAction) => Promise<void>;
}

const REAL_DEPS: ConsoleDeps = {
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

function choiceOf(d: DiskFacts, extra: boolean): DiskChoice {
  const blockers = [...(d.readOnly ? ['the disk is read-only'] : []), ...d.inUse];
  return { facts: d, blockers, bootMedium: d.bootMedium, found: foundOnDisk(d), extra };
}

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
  /** The last run's plan and image session: a retry of that plan installs the image the first attempt resolved. */
  private lastRun?: { plan: Plan; image: ImageSession };
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
      const verdicts = hintVerdicts(
        this.hints,
        all.map((c) => c.facts),
      );
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
      const failure = classifyError(e);
      if (failure.source === 'unexpected') throw e;
      return { ok: false, reasons: failure.reasons };
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
      return { ok: false, reasons: classifyError(e).reasons };
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
    const { plan } = review.prepared;
    const ctl = new AbortController();
    const dir = this.options.logDir;
    const logPath = this.options.logFile ?? (dir === false ? undefined : dir ? join(dir, defaultLogPath().split('/').pop()!) : defaultLogPath());
    const outputs = openOutputs({ logPath, faces: [onEvent], logOptional: true });
    const resumeFrom = previous && !previous.ok ? resumePoint(plan, previous.failedStep) : undefined;
    const image = new ImageSession(resumeFrom && this.lastRun?.plan === plan ? this.lastRun.image.artifact : undefined);
    this.lastRun = { plan, image };
    const disk = this.held;
    this.held = undefined;
    const done = install(review.prepared, outputs, ctl.signal, { steps: this.deps.steps, resumeFrom, disk, image })
      .then((outcome) => outcome.result)
      .finally(() => {
        disk?.release();
        return outputs.close();
      });
    return { abort: (reason = 'aborted at the console') => ctl.abort(new Error(reason)), done, logPath: outputs.logPath };
  }

  power(action: PowerAction): Promise<void> {
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
