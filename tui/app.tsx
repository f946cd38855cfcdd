import { useApp } from 'ink';
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { ConsoleSession, InstallRun, Review } from '../ops/console-session.ts';
import type { InstallResult } from '../ops/events.ts';
import type { Recipe } from '../ops/recipe.ts';
import { SessionContext, SizeContext, ThemeContext, type TerminalSize } from './context.tsx';
import { useInstallFeed } from './hooks/useInstallFeed.ts';
import { KeyRouterProvider } from './hooks/useKeys.tsx';
import { useTerminalSize } from './hooks/useTerminalSize.ts';
import { initialInstall } from './model/install.ts';
import { initialWizard, WIZARD_SCREENS, wizardReducer, type ScreenId, type WizardState } from './model/wizard.ts';
import { DiskScreen } from './screens/Disk.tsx';
import { DoneScreen } from './screens/Done.tsx';
import { FailedScreen } from './screens/Failed.tsx';
import { ImageScreen } from './screens/Image.tsx';
import { InstallScreen } from './screens/Install.tsx';
import { LayoutScreen } from './screens/Layout.tsx';
import { LogScreen } from './screens/Log.tsx';
import { MachineScreen } from './screens/Machine.tsx';
import { ReviewScreen } from './screens/Review.tsx';
import { SettingsScreen } from './screens/Settings.tsx';
import { themeFor, type ConsoleKind } from './theme.ts';
import { WizardContext, type InstallController, type WizardApi } from './wizard-context.tsx';

export interface AppProps {
  session: ConsoleSession;
  kind: ConsoleKind;
  /** A fixed size (tests; a serial console of unknown size); otherwise the terminal's, following resizes. */
  size?: TerminalSize;
  /** The wizard state to open with (a recipe given with --recipe opens at Review). */
  initial?: WizardState;
  onExit: (code: number) => void;
  /** Told about the install being run (and undefined when it ends), so a signal can abort it and wait. */
  onRun?: (run: InstallRun | undefined) => void;
}

function Screen({ screen, openLog }: { screen: ScreenId; openLog: () => void }) {
  switch (screen) {
    case 'machine':
      return <MachineScreen />;
    case 'disk':
      return <DiskScreen />;
    case 'image':
      return <ImageScreen />;
    case 'layout':
      return <LayoutScreen />;
    case 'settings':
      return <SettingsScreen />;
    case 'review':
      return <ReviewScreen />;
    case 'install':
      return <InstallScreen openLog={openLog} />;
    case 'done':
      return <DoneScreen openLog={openLog} />;
    case 'failed':
      return <FailedScreen openLog={openLog} />;
  }
}

/** The console installer: the wizard's state, the install in progress, and the one way out (`exit`). */
export function App({ session, kind, size, initial, onExit, onRun }: AppProps) {
  const app = useApp();
  const theme = themeFor(kind);
  const termSize = useTerminalSize(size);
  const [state, dispatch] = useReducer(wizardReducer, initial ?? initialWizard());
  const [logOpen, setLogOpen] = useState(false);
  const feed = useInstallFeed();
  const [review, setReview] = useState<Review>();
  const runRef = useRef<InstallRun | undefined>(undefined);
  const lastResult = useRef<InstallResult | undefined>(undefined);
  const exited = useRef(false);

  const go = useCallback((screen: ScreenId) => dispatch({ type: 'goto', screen }), []);
  const exit = useCallback(
    (code: number) => {
      if (exited.current) return;
      exited.current = true;
      runRef.current?.abort('the console is closing');
      onExit(code);
      app.exit();
    },
    [app, onExit],
  );

  const begin = useCallback(
    async (r: Review, previous?: InstallResult): Promise<string[] | undefined> => {
      const reasons = await session.recheck(r);
      if (reasons) return reasons;
      feed.reset(initialInstall(r.steps));
      setReview(r);
      setLogOpen(false);
      lastResult.current = undefined;
      const started = session.run(r, feed.push, previous);
      runRef.current = started;
      onRun?.(started);
      go('install');
      started.done.then(
        (result) => {
          lastResult.current = result;
          onRun?.(undefined);
          feed.flush();
          go(result.ok ? 'done' : 'failed');
        },
        (e: Error) => {
          onRun?.(undefined);
          const m = feed.model;
          m.failure = { step: m.current ?? r.prepared.plan.steps[0]!, message: `the installer itself failed: ${e.message}` };
          feed.flush();
          go('failed');
        },
      );
      return undefined;
    },
    [session, feed, go, onRun],
  );

  const install: InstallController = useMemo(
    () => ({
      feed,
      review,
      run: runRef.current,
      start: begin,
      retry: () => (review ? begin(review, lastResult.current) : Promise.resolve(['nothing to retry'])),
      abort: () => runRef.current?.abort(),
    }),
    [feed, review, begin],
  );

  const api: WizardApi = useMemo(
    () => ({
      state,
      dispatch,
      go,
      back: () => {
        const i = WIZARD_SCREENS.indexOf(state.screen as (typeof WIZARD_SCREENS)[number]);
        if (i > 0) go(WIZARD_SCREENS[i - 1]!);
      },
      exit,
      install,
    }),
    [state, go, exit, install],
  );

  useEffect(() => () => runRef.current?.abort('the console is closing'), []);

  return (
    <ThemeContext.Provider value={theme}>
      <SizeContext.Provider value={termSize}>
        <SessionContext.Provider value={session}>
          <WizardContext.Provider value={api}>
            <KeyRouterProvider>
              {logOpen ? (
                <LogScreen model={feed.model} screen={state.screen} onClose={() => setLogOpen(false)} />
              ) : (
                <Screen screen={state.screen} openLog={() => setLogOpen(true)} />
              )}
            </KeyRouterProvider>
          </WizardContext.Provider>
        </SessionContext.Provider>
      </SizeContext.Provider>
    </ThemeContext.Provider>
  );
}

/** The wizard state for a recipe given on the command line: everything filled in, opened at Review. */
export async function stateForRecipe(session: ConsoleSession, recipe: Recipe): Promise<{ state: WizardState; problem?: string }> {
  await session.adoptRecipeRegistry(recipe);
  const disk = await session.recipeDisk(recipe).catch((e: Error) => e);
  const { fromRecipe } = await import('./model/wizard.ts');
  if (disk instanceof Error) return { state: { ...fromRecipe(recipe), screen: 'disk' }, problem: disk.message };
  const state = fromRecipe(recipe, disk);
  if (!state.image) return { state: { ...state, screen: 'image' } };
  const info = await session.inspectImage(state.image.reference).catch(() => undefined);
  return { state: info ? { ...state, image: { ...state.image, info } } : state };
}
