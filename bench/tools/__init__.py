"""Every benchmarked tool, in the order of the tables' rows."""

from .alembic import Alembic
from .dbmate import Dbmate
from .ferryman import Ferryman, FerrymanNoBackup
from .floors import PythonDriverFloor, PythonFloor
from .raw import RawCLI, RawPythonFiles, RawPythonHistory, RawPythonStatements
from .yoyo import Yoyo

ALL = [RawPythonStatements, RawPythonFiles, RawPythonHistory, RawCLI, Ferryman,
       FerrymanNoBackup, Dbmate, Alembic, Yoyo, PythonDriverFloor, PythonFloor]
