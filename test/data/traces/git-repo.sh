#!/bin/sh
# SPDX-License-Identifier: MIT
# git-repo.sh DIR - the repository git.trace was recorded on: six files of
# 0.3 to 1.8 MB of random letters, then six commits that each replace 100
# bytes of every file with 5000 (README: how the trace was recorded).
set -eu
mkdir "$1" && cd "$1" && git init -q
python3 -c "
import random
random.seed(1)
for n in range(6):
    open('f%d.txt' % n, 'w').write(''.join(chr(97 + random.randrange(26)) for _ in range(300000 * (n + 1))))
"
git add .
git -c user.email=a@b -c user.name=t commit -qm 1
for i in 1 2 3 4 5 6; do
	python3 -c "
import random
random.seed($i)
for n in range(6):
    s = open('f%d.txt' % n).read()
    p = random.randrange(len(s))
    open('f%d.txt' % n, 'w').write(s[:p] + 'x' * 5000 + s[p + 100:])
"
	git -c user.email=a@b -c user.name=t commit -qam "$i"
done
