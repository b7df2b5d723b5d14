"""R10's authorization endpoint in a process of its own, fed by the worker's fold (issue 22).

A switch waits on an authorization at every call setup. In the worker's process it shared the
GIL with the fold, and a busy fold made it wait for hundreds of milliseconds. Here it has its
own interpreter: ``process.py`` (the worker's side) starts ``child.py`` and sends it, over one
ordered pipe, the account states each batch wrote and the calls whose holds they settle;
``mirror.py`` is what the child keeps of them, and which worker owns which partition.
"""
