#!/usr/bin/env bash
# The last step of .github/workflows/upstream.yml: commit what scripts/upstream-update.sh
# changed on a branch `upstream/cri-api-<tag>`, push it and open a pull request whose body is
# the change-log entry. Does nothing when that branch already exists (an open pull request, or
# one closed on purpose: delete the branch to get it again).
#
# Environment: FROM, TO, BODY (the update script's outputs), TESTED (the tag the test job
# tested; must equal TO), BASE_BRANCH, GH_TOKEN (contents: write, pull-requests: write).
# Needs git and the gh CLI (both on GitHub's runners).
set -euo pipefail
: "${FROM:?}" "${TO:?}" "${BODY:?}" "${TESTED:?}" "${BASE_BRANCH:?}" "${GH_TOKEN:?}"
cd "$(dirname "$0")/.."

if [ "$TO" != "$TESTED" ]; then
  echo "error: upstream moved to $TO while the tests ran on $TESTED; the next run will catch up" >&2
  exit 1
fi
branch="upstream/cri-api-$TO"
auth=$(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)
echo "::add-mask::$auth"
git_auth() { git -c "http.https://github.com/.extraheader=AUTHORIZATION: basic $auth" "$@"; }

if git_auth ls-remote --exit-code --heads origin "refs/heads/$branch" >/dev/null; then
  echo "branch $branch exists already; nothing to do"
  exit 0
fi
git switch --quiet --create "$branch"
git add --all -- proto crates xtask
git -c user.name='github-actions[bot]' \
    -c user.email='41898282+github-actions[bot]@users.noreply.github.com' \
    commit --quiet -m "runtime.v1: kubernetes/cri-api $FROM -> $TO" -m "$(cat "$BODY")"
git_auth push --quiet origin "$branch"
gh pr create --base "$BASE_BRANCH" --head "$branch" \
  --title "runtime.v1: kubernetes/cri-api $TO (was $FROM)" --body-file "$BODY"
