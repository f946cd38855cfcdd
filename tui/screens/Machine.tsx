import { Box, Text } from 'ink';
import type { MachineInfo } from '../../ops/console-session.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { Field } from '../components/Fields.tsx';
import { Frame } from '../components/Frame.tsx';
import { useBody, useSession, useTheme } from '../context.tsx';
import { useAsync } from '../hooks/useAsync.ts';
import { useConfirm } from '../hooks/useConfirm.ts';
import { useSpinner } from '../hooks/useSpinner.ts';
import type { Binding } from '../keys.ts';
import { fit, padEnd, wrap } from '../text.ts';
import { useWizard } from '../wizard-context.tsx';
import { Loading, Prompt, quitKeys } from './common.tsx';

const LABEL = 12;

function Network({ machine, lines }: { machine: MachineInfo; lines: number }) {
  const theme = useTheme();
  const { width } = useBody();
  const nics = machine.interfaces;
  if (!nics.length) return <Field label="Network" value="no network interfaces found" colour={theme.colour.warn} />;
  const room = width - LABEL;
  const head = (n: MachineInfo['interfaces'][number]) => `${padEnd(n.name, 10)} ${padEnd(n.state ?? '?', 5)} ${padEnd(n.mac ?? '', 17)} `;
  const blocks = nics.map((n) => {
    const h = head(n);
    const addr = wrap(n.addresses.length ? n.addresses.join(', ') : 'no address', room - h.length);
    return { n, rows: addr.map((a, i) => (i === 0 ? h : ' '.repeat(h.length)) + a) };
  });
  const out: { text: string; up: boolean }[] = [];
  let shown = 0;
  for (const b of blocks) {
    const left = blocks.length - shown - 1;
    if (out.length + b.rows.length + (left > 0 ? 1 : 0) > lines) break;
    out.push(...b.rows.map((text) => ({ text, up: b.n.state === 'up' })));
    shown++;
  }
  const rest = nics.slice(shown);
  return (
    <Box flexDirection="column">
      {out.map((l, i) => (
        <Box key={i} height={1}>
          <Text color={theme.colour.muted}>{padEnd(i === 0 ? 'Network' : '', LABEL)}</Text>
          <Text color={l.up ? undefined : theme.colour.muted}>{fit(l.text, room, theme.glyphs.ellipsis)}</Text>
        </Box>
      ))}
      {rest.length ? (
        <Box height={1}>
          <Text color={theme.colour.muted}>{padEnd(out.length ? '' : 'Network', LABEL)}</Text>
          <Text color={theme.colour.muted}>{fit(`+${rest.length} more: ${rest.map((n) => n.name).join(', ')}`, room, theme.glyphs.ellipsis)}</Text>
        </Box>
      ) : null}
    </Box>
  );
}

function RegistryLine() {
  const session = useSession();
  const theme = useTheme();
  const spin = useSpinner(true);
  const reg = useAsync(() => session.registryState(), []);
  if (reg.status === 'loading') return <Field label="Registry" value={`${spin} asking ${session.registry().host ?? ''}`} labelWidth={LABEL} />;
  if (reg.status === 'error') return <Field label="Registry" value={`does not answer: ${reg.error.message}`} colour={theme.colour.bad} labelWidth={LABEL} lines={2} />;
  const r = reg.value;
  if (r.state === 'unset')
    return (
      <Field label="Registry" value="not set: name it on the Image screen (h), or type a full image reference there" colour={theme.colour.warn} labelWidth={LABEL} lines={2} />
    );
  const colour = r.state === 'ok' ? theme.colour.ok : r.state === 'auth' ? theme.colour.warn : theme.colour.bad;
  return <Field label="Registry" value={`${r.host}  ${r.detail}`} colour={colour} labelWidth={LABEL} lines={2} />;
}

export function MachineScreen() {
  const session = useSession();
  const w = useWizard();
  const theme = useTheme();
  const { height } = useBody();
  const confirm = useConfirm();
  const spin = useSpinner(true);
  const machine = useAsync(() => session.machine(), []);
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [{ key: 'enter', label: 'choose a disk', run: () => w.go('disk') }, { key: 'refresh', label: 'refresh', run: machine.reload }, ...quitKeys(confirm, w)];
  return (
    <Frame screen="machine" keys={keys}>
      <Text bold>This machine</Text>
      <Text> </Text>
      {machine.status === 'loading' ? <Loading what="reading the machine" spin={spin} /> : null}
      {machine.status === 'error' ? <Field label="Error" value={machine.error.message} colour={theme.colour.bad} /> : null}
      {machine.status === 'ok' ? (
        <Box flexDirection="column">
          <Field label="Serial" value={machine.value.serial} labelWidth={LABEL} />
          <Field label="Model" value={[machine.value.vendor, machine.value.product].filter(Boolean).join(' ') || 'unknown (no DMI data)'} labelWidth={LABEL} />
          <Field
            label="Firmware"
            value={
              machine.value.uefi
                ? `UEFI${machine.value.efivars ? ', boot entries can be written' : ', but no efivars: no boot entry can be written'}`
                : 'BIOS (legacy): the installed disk boots through the removable-media path only'
            }
            colour={machine.value.uefi ? theme.colour.ok : theme.colour.warn}
            labelWidth={LABEL}
            lines={2}
          />
          <Field label="Memory" value={machine.value.memoryBytes ? formatBytes(machine.value.memoryBytes) : 'unknown'} labelWidth={LABEL} />
          <Field label="Kernel" value={`${machine.value.kernel}; mounts ${machine.value.filesystems.join(', ') || 'no known filesystem'}`} labelWidth={LABEL} lines={2} />
          <RegistryLine key={machine.status} />
          <Network machine={machine.value} lines={height - 13} />
        </Box>
      ) : null}
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message="Enter: choose the disk to install onto." />
    </Frame>
  );
}
