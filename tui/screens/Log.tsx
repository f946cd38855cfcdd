import { useMemo, useState } from 'react';
import { Frame, useFrameSize } from '../components/Frame.tsx';
import { clampOffset, ScrollText } from '../components/ScrollText.tsx';
import { movement, type Binding } from '../keys.ts';
import type { InstallModel } from '../model/install.ts';
import type { ScreenId } from '../model/wizard.ts';
import { wrap } from '../text.ts';

/** Every log line of the install, scrollable; it follows new lines while at the end. */
export function LogScreen({ model, screen, onClose }: { model: InstallModel; screen: ScreenId; onClose: () => void }) {
  const { width, height } = useFrameSize().body;
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const lines = useMemo(() => model.lines.flatMap((l) => wrap(l, width, '    ')), [model.lines.length, model.events, width]);
  const [offset, setOffset] = useState<number | 'end'>('end');
  const room = height - 1;
  const at = offset === 'end' ? Math.max(0, lines.length - room) : offset;
  const scroll = (input: string, key: Parameters<Binding['run']>[1]) => {
    const how = movement(input, key) ?? 'down';
    const delta = { up: -1, down: 1, pageUp: -(room - 1), pageDown: room - 1, home: -1e9, end: 1e9 }[how];
    const next = clampOffset(at + delta, lines.length, room);
    setOffset(next >= lines.length - room ? 'end' : next);
  };
  const keys: Binding[] = [
    { key: 'move', label: 'scroll', run: scroll },
    { key: 'page', label: 'page', run: scroll },
    { key: 'home', label: 'top', run: scroll },
    { key: 'end', label: 'follow', run: scroll },
    { key: 'back', label: 'close', run: onClose },
    { key: 'log', label: 'close', hidden: true, run: onClose },
  ];
  return (
    <Frame screen={screen} keys={keys} note={`Full log: ${model.lines.length} lines${offset === 'end' ? ', following' : ''}`}>
      <ScrollText lines={lines.length ? lines : ['(nothing logged yet)']} height={height} width={width} offset={at} />
    </Frame>
  );
}
