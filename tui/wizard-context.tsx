import { createContext, useContext, type Dispatch } from 'react';
import type { InstallRun, Review } from '../ops/console-session.ts';
import type { InstallFeed } from './hooks/useInstallFeed.ts';
import type { ScreenId, WizardAction, WizardState } from './model/wizard.ts';

export interface InstallController {
  feed: InstallFeed;
  /** The reviewed plan being (or last) installed. */
  review?: Review;
  run?: InstallRun;
  /** Start after the confirmation; the reasons when the disk was taken meanwhile. */
  start(review: Review): Promise<string[] | undefined>;
  /** Run the same plan again (after a failure). */
  retry(): Promise<string[] | undefined>;
  abort(): void;
}

export interface WizardApi {
  state: WizardState;
  dispatch: Dispatch<WizardAction>;
  go(screen: ScreenId): void;
  /** One screen to the left in the wizard. */
  back(): void;
  /** Leave the console with this exit code (the one place that ends the app). */
  exit(code: number): void;
  install: InstallController;
}

export const WizardContext = createContext<WizardApi | undefined>(undefined);

export function useWizard(): WizardApi {
  const w = useContext(WizardContext);
  if (!w) throw new Error('no wizard');
  return w;
}
