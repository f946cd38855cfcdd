import { useBody, useSession, useTheme } from '../context.tsx';
import { useWizard } from '../wizard-context.tsx';
import { useConfirm } from './useConfirm.ts';
import { useSpinner } from './useSpinner.ts';

/** What every wizard screen starts from: the engine, the wizard's state, the theme, the body's size, the quit prompt, a spinner. */
export function useScreen() {
  return {
    session: useSession(),
    w: useWizard(),
    theme: useTheme(),
    ...useBody(),
    confirm: useConfirm(),
    spin: useSpinner(true),
  };
}
