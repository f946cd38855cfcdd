import { Box, Text } from 'ink';
import { useScreen } from '../hooks/useScreen.ts';
import { useEffect, useReducer } from 'react';
import type { ImageInfo } from '../../ops/console-session.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { Field } from '../components/Fields.tsx';
import { Frame } from '../components/Frame.tsx';
import { ListView, moveIndex } from '../components/ListView.tsx';
import { TextField } from '../components/TextField.tsx';
import { useBody, useTheme } from '../context.tsx';
import { useAsync, type AsyncState } from '../hooks/useAsync.ts';
import { useSpinner } from '../hooks/useSpinner.ts';
import { movement, type Binding } from '../keys.ts';
import { chosenOn, imageBrowserReducer, initialBrowser, tagIndexOf } from '../model/image-browser.ts';
import { fit, padEnd } from '../text.ts';
import { Prompt, quitKeys } from './common.tsx';

const errorOf = (s: AsyncState<unknown>) => (s.status === 'error' ? s.error : undefined);
const isAuth = (s: AsyncState<unknown>) => s.status === 'error' && s.error.name === 'RegistryAuthRequired';

export const kindOf = (i: ImageInfo) =>
  i.os === 'windows'
    ? 'Windows WIM'
    : i.layers > 1
      ? 'Linux container image'
      : i.os === 'linux'
        ? `Linux rootfs${i.format ? ` (${i.format})` : ''}`
        : 'unknown: the first bytes will tell (installed as Linux)';

function Details({ info, lines }: { info: AsyncState<ImageInfo | undefined>; lines: number }) {
  const theme = useTheme();
  const { width } = useBody();
  const spin = useSpinner(info.status === 'loading');
  if (info.status === 'loading') return <Text color={theme.colour.muted}>{`${spin} reading the manifest`}</Text>;
  if (info.status === 'error') {
    return <Text color={theme.colour.bad}>{fit(isAuth(info) ? 'the registry wants credentials' : info.error.message, width, theme.glyphs.ellipsis)}</Text>;
  }
  const i = info.value;
  if (!i) return null;
  const rows: [string, string, string?, number?][] = [
    ['Reference', i.reference],
    ['Kind', kindOf(i), i.os === 'unknown' ? theme.colour.warn : theme.colour.ok],
    ...(i.osName ? [['OS', i.osName] as [string, string]] : []),
    ['Size', i.layers > 1 ? `${formatBytes(i.size)} in ${i.layers} layers` : formatBytes(i.size)],
    ['Digest', i.platform ? `${i.manifestDigest} (${i.platform})` : i.manifestDigest, undefined, 2],
    ['Media type', i.mediaType],
    ['Artifact', i.artifactType ?? '-'],
    ['File', i.title ?? '-'],
  ];
  return (
    <Box flexDirection="column">
      {rows.slice(0, Math.max(0, lines - 1)).map(([l, v, c, n]) => (
        <Field key={l} label={l} value={v} colour={c} lines={n} />
      ))}
    </Box>
  );
}

export function ImageScreen() {
  const { session, w, theme, width, height, confirm, spin } = useScreen();
  const host = session.registry().host;
  // Coming back: open at the chosen image's tag on this registry.
  const chosen = chosenOn(w.state.image?.reference, host);
  const [b, dispatch] = useReducer(imageBrowserReducer, undefined, () => initialBrowser(host, w.state.image?.reference));
  const { mode, repo, gen } = b;

  const repos = useAsync(() => (host ? session.repositories() : Promise.resolve([] as string[])), [host, gen]);
  const tags = useAsync(() => (repo ? session.tags(repo) : Promise.resolve([] as string[])), [repo, gen]);
  const tagList = tags.status === 'ok' ? tags.value : [];
  const ti = tagIndexOf(b, tagList, chosen);
  const repoList = repos.status === 'ok' ? repos.value : [];
  const shownMode = mode === 'login' ? b.before : mode;
  const target = shownMode === 'tags' && repo && tagList[ti] ? `${repo}:${tagList[ti]}` : shownMode === 'type' ? b.submitted : undefined;
  const info = useAsync(() => (target ? session.inspectImage(target) : Promise.resolve(undefined)), [target, gen]);

  useEffect(() => {
    if (mode !== 'login' && (isAuth(repos) || isAuth(tags) || isAuth(info))) dispatch({ type: 'login', prompted: true, refused: session.registry().authenticated });
    // Each failure is a new Error: a second refusal (a wrong password) asks again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [errorOf(repos), errorOf(tags), errorOf(info)]);

  const say = (message: string) => dispatch({ type: 'message', message });
  const choose = () => {
    if (info.status !== 'ok' || !info.value) return say('wait for the image facts, or pick another');
    const i = info.value;
    w.dispatch({ type: 'image', image: { reference: i.reference, os: i.os === 'windows' ? 'windows' : 'linux', info: i } });
    w.go('layout');
  };
  const move = (input: string, key: Parameters<Binding['run']>[1]) => {
    const how = movement(input, key) ?? 'down';
    if (mode === 'repos') dispatch({ type: 'point-repo', index: moveIndex(repoList.length, b.repoIndex, how) });
    else dispatch({ type: 'point-tag', index: moveIndex(tagList.length, ti, how) });
  };
  const cancel = () => dispatch({ type: 'cancel', hasHost: !!host });
  const common: Binding[] = [
    { key: 'type', label: 'type ref', run: () => dispatch({ type: 'open', mode: 'type' }) },
    { key: 'host', label: 'registry', run: () => dispatch({ type: 'open', mode: 'host' }) },
    { key: 'credentials', label: 'login', run: () => dispatch({ type: 'login' }) },
    { key: 'refresh', label: 'refresh', hidden: true, run: () => dispatch({ type: 'refresh' }) },
  ];
  let keys: Binding[];
  if (confirm.asking) keys = confirm.bindings;
  else if (mode === 'repos') {
    keys = [
      { key: 'move', label: 'move', run: move },
      { key: 'page', label: 'page', hidden: true, run: move },
      {
        key: 'enter',
        label: 'open',
        run: () => {
          const picked = repoList[b.repoIndex];
          if (picked) dispatch({ type: 'open-repo', repo: picked });
        },
      },
      ...common,
      { key: 'back', label: 'back', run: w.back },
      ...quitKeys(confirm, w),
    ];
  } else if (mode === 'tags') {
    keys = [
      { key: 'move', label: 'move', run: move },
      { key: 'page', label: 'page', hidden: true, run: move },
      { key: 'enter', label: 'choose', run: choose },
      { key: 'back', label: 'repos', run: () => dispatch({ type: 'back-to-repos' }) },
      ...common,
      ...quitKeys(confirm, w),
    ];
  } else if (mode === 'type') {
    keys = [
      {
        key: 'enter',
        label: 'look up / choose',
        run: () => {
          const ref = b.typed.trim();
          if (!ref) return say('type a reference like registry:5000/os-images/debian:12');
          if (ref !== b.submitted) return dispatch({ type: 'submit', reference: ref });
          if (info.status === 'error') return dispatch({ type: 'refresh' });
          choose();
        },
      },
      { key: 'back', label: 'cancel', run: () => (cancel(), host ? undefined : w.back()) },
      ...quitKeys(confirm, w, false),
    ];
  } else if (mode === 'host') {
    keys = [
      {
        key: 'enter',
        label: 'use this registry',
        run: () => {
          session.useRegistry(b.hostText.trim() || undefined);
          dispatch({ type: 'registry-set' });
        },
      },
      { key: 'back', label: 'cancel', run: cancel },
      ...quitKeys(confirm, w, false),
    ];
  } else {
    keys = [
      { key: 'tab', label: 'next field', run: () => dispatch({ type: 'login-field' }) },
      { key: 'move', label: 'field', hidden: true, run: () => dispatch({ type: 'login-field' }) },
      {
        key: 'enter',
        label: 'log in',
        run: () => {
          if (b.loginField === 0 && !b.pass) return dispatch({ type: 'login-field', field: 1 });
          session.setCredentials(b.user ? { username: b.user, password: b.pass } : undefined);
          dispatch({ type: 'logged-in' });
        },
      },
      { key: 'back', label: 'cancel', run: cancel },
      ...quitKeys(confirm, w, false),
    ];
  }
  const edit = (field: 'typed' | 'hostText' | 'user' | 'pass') => (value: string) => dispatch({ type: 'edit', field, value });

  const listHeight = Math.max(3, Math.min(8, height - 13));
  const who = session.registry().user ? ` (as ${session.registry().user})` : '';
  const head = host ? `Registry ${host}${who}` : 'No registry set: type a full image reference, or press Esc then h';
  return (
    <Frame screen="image" keys={keys}>
      <Text bold>{fit(head, width, theme.glyphs.ellipsis)}</Text>
      {mode === 'repos' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.muted}>{repos.status === 'ok' ? `Repositories (${repoList.length})` : 'Repositories'}</Text>
          {repos.status === 'loading' ? <Text color={theme.colour.muted}>{`${spin} listing repositories`}</Text> : null}
          {repos.status === 'error' && !isAuth(repos) ? <Text color={theme.colour.bad}>{fit(repos.error.message, width, theme.glyphs.ellipsis)}</Text> : null}
          {repos.status === 'ok' ? (
            <ListView
              items={repoList}
              index={b.repoIndex}
              height={listHeight}
              row={(r) => fit(r, width - 2, theme.glyphs.ellipsis)}
              empty="The registry lists no repositories: press t to type a reference."
            />
          ) : null}
        </Box>
      ) : null}
      {mode === 'tags' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.muted}>{fit(`Tags of ${repo}${tags.status === 'ok' ? ` (${tagList.length})` : ''}`, width, theme.glyphs.ellipsis)}</Text>
          {tags.status === 'loading' ? <Text color={theme.colour.muted}>{`${spin} listing tags`}</Text> : null}
          {tags.status === 'error' && !isAuth(tags) ? <Text color={theme.colour.bad}>{fit(tags.error.message, width, theme.glyphs.ellipsis)}</Text> : null}
          {tags.status === 'ok' ? <ListView items={tagList} index={ti} height={listHeight} row={(t) => fit(t, width - 2, theme.glyphs.ellipsis)} empty="No tags." /> : null}
        </Box>
      ) : null}
      {mode === 'type' || mode === 'host' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.muted}>
            {mode === 'type' ? 'Image reference (HOST[:PORT]/REPO:TAG, or REPO:TAG on this registry)' : "The controller's registry (HOST[:PORT])"}
          </Text>
          <Box>
            <Text>{theme.glyphs.pointer} </Text>
            {mode === 'type' ? (
              <TextField value={b.typed} onChange={edit('typed')} focused width={width - 2} />
            ) : (
              <TextField value={b.hostText} onChange={edit('hostText')} focused width={width - 2} />
            )}
          </Box>
        </Box>
      ) : null}
      {mode === 'login' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.warn}>{fit(`${host ?? 'The registry'} wants credentials (HTTP 401).`, width, theme.glyphs.ellipsis)}</Text>
          <Box>
            <Text>{padEnd(`${b.loginField === 0 ? theme.glyphs.pointer : ' '} User`, 12)}</Text>
            <TextField value={b.user} onChange={edit('user')} focused={b.loginField === 0} width={width - 12} />
          </Box>
          <Box>
            <Text>{padEnd(`${b.loginField === 1 ? theme.glyphs.pointer : ' '} Password`, 12)}</Text>
            <TextField value={b.pass} onChange={edit('pass')} focused={b.loginField === 1} width={width - 12} mask />
          </Box>
        </Box>
      ) : null}
      <Text color={theme.colour.muted}>{theme.glyphs.rule.repeat(width)}</Text>
      {mode !== 'login' && mode !== 'host' ? <Details info={info} lines={height - listHeight - 5} /> : null}
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={b.message} tone="bad" />
    </Frame>
  );
}
