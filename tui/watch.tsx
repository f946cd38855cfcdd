import { Box, Text, useApp } from 'ink';
import { useEffect, useState } from 'react';
import type { InstallEvent } from '../ops/events.ts';
import { Frame, useFrameSize } from './components/Frame.tsx';
import { Para } from './components/Fields.tsx';
import { InstallView } from './components/InstallView.tsx';
import { SizeContext, ThemeContext, useTheme, type TerminalSize } from './context.tsx';
import { useInstallFeed } from './hooks/useInstallFeed.ts';
import { KeyRouterProvider } from './hooks/useKeys.tsx';
import { useSpinner, useTick } from './hooks/useSpinner.ts';
import { useTerminalSize } from './hooks/useTerminalSize.ts';
import type { Binding } from './keys.ts';
import { summaryLines } from './screens/Done.tsx';
import { LogScreen } from './screens/Log.tsx';
import { themeFor, type ConsoleKind } from './theme.ts';
import { fit } from './text.ts';

export interface WatchProps {
  /** Feed events in; returns how to stop. Anything that yields the runner's events works (a log being written, a test). */
  subscribe: (onEvent: (e: InstallEvent) => void) => () => void;
  kind: ConsoleKind;
  size?: TerminalSize;
  /** Where the events come from, for the header. */
  source: string;
  onExit: (code: number) => void;
}

/** The Install screen for someone who only looks: auto mode runs the install, tty1 shows it. No key changes anything. */
export function WatchApp({ subscribe, kind, size, source, onExit }: WatchProps) {
  const app = useApp();
  const termSize = useTerminalSize(size);
  const feed = useInstallFeed();
  const [logOpen, setLogOpen] = useState(false);
  useEffect(() => subscribe(feed.push), [subscribe, feed]);
  const leave = () => {
    onExit(0);
    app.exit();
  };
  return (
    <ThemeContext.Provider value={themeFor(kind)}>
      <SizeContext.Provider value={termSize}>
        <KeyRouterProvider>
          {logOpen ? (
            <LogScreen model={feed.model} screen="install" onClose={() => setLogOpen(false)} />
          ) : (
            <WatchScreen source={source} model={feed.model} openLog={() => setLogOpen(true)} leave={leave} />
          )}
        </KeyRouterProvider>
      </SizeContext.Provider>
    </ThemeContext.Provider>
  );
}

function WatchScreen({ source, model, openLog, leave }: { source: string; model: ReturnType<typeof useInstallFeed>['model']; openLog: () => void; leave: () => void }) {
  const theme = useTheme();
  const { width, height } = useFrameSize().body;
  const running = !model.result;
  const spin = useSpinner(running);
  const tick = useTick(running);
  const keys: Binding[] = [
    { key: 'log', label: 'full log', run: openLog },
    { key: 'quit', label: 'stop watching', run: leave },
    { key: 'interrupt', label: 'stop watching', hidden: true, run: leave },
  ];
  const r = model.result;
  return (
    <Frame screen={r ? (r.ok ? 'done' : 'failed') : 'install'} keys={keys} note={fit(`Watching the automatic install (read-only): ${source}`, width - 6, theme.glyphs.ellipsis)}>
      {!r ? (
        <InstallView model={model} spin={spin} tick={tick} headline={model.events ? 'Automatic install in progress' : `${spin} waiting for the install to start`} />
      ) : (
        <Box flexDirection="column">
          <Text bold color={r.ok ? theme.colour.ok : theme.colour.bad}>
            {r.ok ? `${theme.glyphs.done} The automatic install finished.` : `${theme.glyphs.failed} The automatic install failed at ${r.failedStep ?? '?'}.`}
          </Text>
          {!r.ok && model.failure ? (
            <Para text={`${model.failure.message}${model.failure.hint ? `\nWhat to do: ${model.failure.hint}` : ''}`} max={6} colour={theme.colour.bad} />
          ) : null}
          {r.ok
            ? summaryLines(model, theme, width)
                .slice(0, height - 1)
                .map((l, i) => <Text key={i}>{l || ' '}</Text>)
            : null}
        </Box>
      )}
    </Frame>
  );
}
