#!/bin/sh
# Runs the Python tests against a built libvdb.so.
#   python/tests/run_pytest.sh build/libvdb.so [pytest args...]
# (meson test registers it with the library's full path; any extra arguments go to pytest.)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python_dir=$(dirname "$here")
lib=${1:?usage: run_pytest.sh path/to/libvdb.so [pytest args...]}
shift
case $lib in /*) ;; *) lib=$(pwd)/$lib ;; esac
LIBVDB_PATH=$lib
PYTHONPATH=$python_dir${PYTHONPATH:+:$PYTHONPATH}
# PYTHONSAFEPATH and the cd: the current folder (a meson build folder holds a libvdb.so) must
# not come first on sys.path, where Python would take libvdb.so for an extension module.
PYTHONSAFEPATH=1
export LIBVDB_PATH PYTHONPATH PYTHONSAFEPATH
cd "$python_dir"
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests "$@"
