import { Box, Text } from 'ink';
import { useState } from 'react';
import { Frame } from '../components/Frame.tsx';
import { TextField } from '../components/TextField.tsx';
import { useBody, useSession, useTheme } from '../context.tsx';
import { useAsync } from '../hooks/useAsync.ts';
import { useConfirm } from '../hooks/useConfirm.ts';
import { movement, type Binding } from '../keys.ts';
import { settingsFields, settingsProblems, userDataSummary, type SettingsField } from '../model/wizard.ts';
import { fit, padEnd, wrap } from '../text.ts';
import { useWizard } from '../wizard-context.tsx';
import { Prompt, quitKeys } from './common.tsx';

const LABEL: Record<SettingsField, string> = {
  hostname: 'Hostname',
  sshKey: 'SSH public key',
  userDataPath: 'User-data file',
  kernelArgs: 'Kernel args',
  unattendPath: 'unattend.xml',
  wimIndex: 'WIM index',
};

const HELP: Record<SettingsField, string> = {
  hostname: "The installed system's host name (cloud-init local-hostname). Empty: shoal-<serial>.",
  sshKey: 'One OpenSSH public key line; it becomes cloud-config user-data (ssh_authorized_keys).',
  userDataPath: 'Or a cloud-init user-data file in the maintenance OS (e.g. on the task ISO). Its content is never shown.',
  kernelArgs: "Extra arguments for the installed system's kernel command line (GRUB), e.g. console=ttyS0,115200.",
  unattendPath: 'An unattend.xml file in the maintenance OS for Windows Setup. Its content is never shown.',
  wimIndex: 'Which image of the WIM to apply (1 is the first).',
};

const LABEL_WIDTH = 17;

export function SettingsScreen() {
  const session = useSession();
  const w = useWizard();
  const theme = useTheme();
  const { width } = useBody();
  const confirm = useConfirm();
  const os = w.state.image?.os ?? 'linux';
  const fields = settingsFields(os);
  const [at, setAt] = useState(0);
  const [message, setMessage] = useState<string>();
  const s = w.state.settings;
  const problems = settingsProblems(s, os);
  const filePath = os === 'windows' ? s.unattendPath.trim() : s.userDataPath.trim();
  const file = useAsync(() => (filePath ? session.fileInfo(filePath) : Promise.resolve(undefined)), [filePath]);
  const set = (f: SettingsField, v: string) => {
    setMessage(undefined);
    w.dispatch({ type: 'setting', field: f, value: v });
  };
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [
        { key: 'move', label: 'field', run: (input, k) => setAt((i) => (movement(input, k) === 'up' ? (i + fields.length - 1) % fields.length : (i + 1) % fields.length)) },
        { key: 'tab', label: 'next field', hidden: true, run: () => setAt((i) => (i + 1) % fields.length) },
        {
          key: 'enter',
          label: 'review',
          run: () => {
            const bad = Object.entries(problems);
            if (bad.length) return setMessage(`${LABEL[bad[0]![0] as SettingsField]}: ${bad[0]![1]}`);
            w.go('review');
          },
        },
        { key: 'back', label: 'back', run: w.back },
        ...quitKeys(confirm, w, false),
      ];
  const focused = fields[at]!;
  const fileLine =
    filePath && file.status === 'ok' && file.value
      ? { text: `${filePath}: ${file.value.ok ? `found, ${file.value.detail}` : file.value.detail}`, colour: file.value.ok ? theme.colour.ok : theme.colour.bad }
      : undefined;
  return (
    <Frame screen="settings" keys={keys}>
      <Text bold>{`Settings for the installed ${os === 'windows' ? 'Windows' : 'Linux'} system (all optional)`}</Text>
      <Text> </Text>
      {fields.map((f, i) => (
        <Box key={f} height={1}>
          <Text color={i === at ? theme.colour.accent : undefined}>{`${i === at ? theme.glyphs.pointer : ' '} ${padEnd(LABEL[f], LABEL_WIDTH)}`}</Text>
          <TextField value={s[f]} onChange={(v) => set(f, v)} focused={i === at} width={width - LABEL_WIDTH - 3} placeholder={f === 'wimIndex' ? '1' : '-'} />
        </Box>
      ))}
      <Text> </Text>
      {wrap(HELP[focused], width).map((l, i) => (
        <Text key={`h${i}`} color={theme.colour.muted}>
          {l}
        </Text>
      ))}
      <Text> </Text>
      {os === 'linux' ? <Text>{fit(`User-data: ${userDataSummary(s)}`, width, theme.glyphs.ellipsis)}</Text> : null}
      {os === 'windows' ? (
        <Text>
          {fit(
            `unattend.xml: ${s.unattendPath.trim() ? s.unattendPath.trim() : s.keptUnattend !== undefined ? "the recipe's (never shown)" : 'none'}`,
            width,
            theme.glyphs.ellipsis,
          )}
        </Text>
      ) : null}
      {fileLine ? <Text color={fileLine.colour}>{fit(fileLine.text, width, theme.glyphs.ellipsis)}</Text> : null}
      {Object.entries(problems).map(([f, p]) => (
        <Text key={f} color={theme.colour.bad}>
          {fit(`${LABEL[f as SettingsField]}: ${p}`, width, theme.glyphs.ellipsis)}
        </Text>
      ))}
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={message} tone="bad" />
    </Frame>
  );
}
