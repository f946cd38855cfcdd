import type { Plan, StepName } from './plan.ts';
import { STEP_LIST } from './steps/index.ts';
import type { Step } from './steps/step.ts';
import { formatBytes } from './sizes.ts';
import { LOOP_PLACEHOLDER, partitionDevice } from './disks.ts';
import { secretLines } from './public-recipe.ts';
import { describeContents } from './disk-contents.ts';

/** How the disk was chosen: the name given, the device it resolved to, and for hints the disks ruled out. */
function targetLines(plan: Plan): string[] {
  const t = plan.target;
  if (!t || t.how === 'path') return [];
  const out = [`  chosen: ${t.why}`];
  if (t.given && t.given !== t.path) out.unshift(`  named: ${t.given} -> ${t.path}`);
  if (t.hints) out.push(`  target_disk_hints: ${t.hints}`);
  for (const r of t.ruledOut ?? []) out.push(`  not ${r.path}: ${r.reasons.join('; ')}`);
  return out;
}

function diskLine(plan: Plan): string {
  const d = plan.disk;
  const what = [d.model, d.serial && `serial ${d.serial}`, d.transport].filter(Boolean).join(', ');
  const kind = d.kind === 'image' ? 'disk image file, attached as a loop device' : what;
  return `${d.path} (${formatBytes(d.sizeBytes)}${kind ? `, ${kind}` : ''})`;
}

function destroyed(plan: Plan): string[] {
  const d = plan.disk;
  if (!d.partitions.length) return [`everything on ${d.path} (no partitions found on it now)`];
  return d.partitions.map((p) => `${p.path} ${formatBytes(p.sizeBytes)} ${[p.fstype, p.label && `"${p.label}"`].filter(Boolean).join(' ')}`.trim());
}

/** The disk's device as the plan can name it: an image's loop device is only known once attached. */
export const shownDevice = (plan: Plan) => (plan.disk.kind === 'image' ? LOOP_PLACEHOLDER : plan.disk.path);

function partitionTable(plan: Plan): string[] {
  const dev = shownDevice(plan);
  return plan.partitions.map((p) =>
    [
      `  ${partitionDevice(dev, p.number).padEnd(14)}`,
      formatBytes(p.sizeBytes).padStart(10),
      ` ${p.typeCode.padEnd(5)}`,
      ` ${p.format.padEnd(5)}`,
      ` ${(p.mountpoint ?? '-').padEnd(10)}`,
      ` ${(p.label ?? '').padEnd(8)}`,
      p.fsUuid ? ` UUID=${p.fsUuid}` : '',
    ].join(''),
  );
}

/** Step by step, what will run, in each step's own words (its describe). */
export function describeSteps(plan: Plan, steps: readonly Step[] = STEP_LIST): { step: StepName; title: string; lines: string[] }[] {
  const dev = shownDevice(plan);
  return plan.steps.map((name) => {
    const step = steps.find((s) => s.name === name)!;
    return { step: name, title: step.title, lines: step.describe?.(plan, dev) ?? [] };
  });
}

export function renderPlan(plan: Plan, steps: readonly Step[] = STEP_LIST): string {
  const out: string[] = [];
  out.push(`Install ${plan.os === 'windows' ? 'Windows' : 'Linux'} from ${plan.recipe.oci_url ?? '(no image)'}`);
  out.push(`Target disk: ${diskLine(plan)}`, ...targetLines(plan));
  if (plan.contents) out.push('', 'ON THE DISK NOW:', ...describeContents(plan.contents).map((l) => `  ${l}`));
  out.push('', 'WILL BE DESTROYED:', ...destroyed(plan).map((l) => `  ${l}`));
  out.push('', `New GPT (disk GUID ${plan.diskGuid}):`, ...partitionTable(plan));
  const secrets = secretLines(plan.recipe);
  if (secrets.length) out.push('', 'Secrets (their content is never shown):', ...secrets.map((l) => `  ${l}`));
  for (const s of describeSteps(plan, steps)) {
    out.push('', `${s.step}: ${s.title}`, ...s.lines.map((l) => `  $ ${l}`));
  }
  for (const s of plan.skipped) out.push('', `${s}: skipped (--stop-before)`);
  if (plan.warnings.length) out.push('', 'Warnings:', ...plan.warnings.map((w) => `  ! ${w}`));
  return `${out.join('\n')}\n`;
}
