import { useState } from 'react';
import type { Binding } from '../keys.ts';

interface Question {
  question: string;
  yes: () => void;
  yesLabel: string;
  noLabel: string;
}

/**
 * A y/n question in place of the screen's keys: while it is asked, the status bar shows only y and n, and
 * nothing else the screen binds can fire.
 */
export function useConfirm() {
  const [q, setQ] = useState<Question | undefined>();
  const bindings: Binding[] = q
    ? [
        {
          key: 'yes',
          label: q.yesLabel,
          run: () => {
            setQ(undefined);
            q.yes();
          },
        },
        { key: 'no', label: q.noLabel, run: () => setQ(undefined) },
      ]
    : [];
  return {
    asking: q !== undefined,
    question: q?.question,
    ask: (question: string, yes: () => void, yesLabel = 'yes', noLabel = 'no') => setQ({ question, yes, yesLabel, noLabel }),
    cancel: () => setQ(undefined),
    bindings,
  };
}

export type Confirm = ReturnType<typeof useConfirm>;
