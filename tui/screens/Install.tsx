import { Box } from 'ink';
import { Frame } from '../components/Frame.tsx';
import { InstallView } from '../components/InstallView.tsx';
import { useConfirm } from '../hooks/useConfirm.ts';
import { useSpinner, useTick } from '../hooks/useSpinner.ts';
import type { Binding } from '../keys.ts';
import { useWizard } from '../wizard-context.tsx';
import { Prompt } from './common.tsx';

export function headlineOf(review: ReturnType<typeof useWizard>['install']['review']): string {
  if (!review) return 'Installing';
  const plan = review.prepared.plan;
  return `Installing ${plan.os === 'windows' ? 'Windows' : 'Linux'} onto ${plan.disk.name} from ${plan.recipe.oci_url ?? ''}`;
}

export function InstallScreen({ openLog }: { openLog: () => void }) {
  const w = useWizard();
  const confirm = useConfirm();
  const { model } = w.install.feed;
  const running = !model.result;
  const spin = useSpinner(running);
  const tick = useTick(running);
  const askAbort = () =>
    confirm.ask(
      'Abort the install? The disk is left partly written; mounts and loop devices are released.',
      () => {
        model.aborting = true;
        w.install.abort();
      },
      'abort',
      'keep going',
    );
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [
        { key: 'log', label: 'full log', run: openLog },
        ...(model.aborting ? [] : [{ key: 'abort' as const, label: 'abort', run: askAbort }]),
        { key: 'interrupt', label: 'abort', hidden: true, run: () => (model.aborting ? undefined : askAbort()) },
      ];
  return (
    <Frame screen="install" keys={keys}>
      <InstallView model={model} spin={spin} tick={tick} headline={headlineOf(w.install.review)} reserve={1} />
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={model.aborting ? 'Aborting: stopping the running command and cleaning up...' : undefined} tone="warn" />
    </Frame>
  );
}
