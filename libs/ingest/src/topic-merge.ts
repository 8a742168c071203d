import { CommitId, MergeConflict } from '@tributary/core';
import { defaultAuthor, isAncestor, mergeCommitTrees, Repository } from '@tributary/repository';
import { REGION } from './batch-history';

export type TopicMergeOutcome =
  /** The branch moved to a new commit whose first parent is the topic head and whose second is the old HEAD. */
  | { readonly kind: 'merge'; readonly commit: CommitId; readonly previous: CommitId }
  /** The branch was empty, or everything on it is in the topic head's history: it moved to the topic head. */
  | { readonly kind: 'fast-forward'; readonly commit: CommitId; readonly previous: CommitId | undefined }
  /** The two histories changed the same paths differently; nothing moved. */
  | { readonly kind: 'conflict'; readonly head: CommitId; readonly conflicts: readonly MergeConflict[] };

export interface TopicMergeOptions {
  readonly topic: string;
  readonly region: string;
  readonly author?: string;
  readonly now?: Date;
}

/**
 * Takes a topic head this repository's branch does not descend from (a store lost and started afresh, or another
 * agent publishing the same topic) into the branch, so that the branch can be published again as a fast-forward.
 * The topic's head and its objects must already be here (SyncClient.fetchTopicHead).
 *
 * - HEAD unborn, or an ancestor of the topic head: the branch moves to the topic head.
 * - Otherwise a merge commit whose FIRST parent is the topic head and whose second is HEAD: a topic log is a
 *   first-parent chain (the broker's fast-forward check, the hub and `trib verify` walk first parents), so the topic
 *   goes on from its head and the agent's own commits hang off the second parent. Its tree is the three-way merge of
 *   the two (mergeCommitTrees, as `trib merge`), from their merge base or from nothing when they share none.
 * - A conflict changes nothing and is returned with its paths.
 *
 * Runs under the repository lock and moves the branch by compare-and-swap, so it never races a batch commit.
 */
export async function mergeTopicHead(repo: Repository, topicHead: CommitId, opts: TopicMergeOptions): Promise<TopicMergeOutcome> {
  return repo.lock.run(async () => {
    const head = await repo.head();
    const local = head.commit;
    if (!local || (await isAncestor(repo, local, topicHead))) {
      await repo.advanceHead(head, topicHead);
      return { kind: 'fast-forward', commit: topicHead, previous: local };
    }
    const merged = await mergeCommitTrees(repo, topicHead, local);
    if (!merged.tree) return { kind: 'conflict', head: local, conflicts: merged.conflicts };
    const commit = await repo.writeCommit({
      tree: merged.tree.id,
      parents: [topicHead, local],
      author: opts.author?.trim() || defaultAuthor(),
      time: (opts.now ?? new Date()).toISOString(),
      message: `Merge this agent's history into ${opts.topic} at ${topicHead}, which it did not descend from`,
      annotations: { [REGION]: opts.region },
    });
    await repo.advanceHead(head, commit);
    return { kind: 'merge', commit, previous: local };
  });
}
