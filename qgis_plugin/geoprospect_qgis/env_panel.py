"""The environment panel: shows the configured geoprospect or installs it in one action.

Opened from Plugins ▸ geoprospect ▸ Environment… and shown as the "geoprospect" page of
Settings ▸ Options (beside Processing). Installing runs in a QgsTask (QGIS's task manager and
its progress bar), never in QGIS's main thread, and never touches QGIS's own Python.
"""

from __future__ import annotations

import os

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import environment as envmod
from .settings import executable_setting


class InstallTask(QgsTask):
    """Creates / updates the environment in QGIS's task manager; ``line`` carries the log."""

    line = pyqtSignal(str)
    done = pyqtSignal(bool, str)  # success, message (the summary or the error)

    def __init__(self, plan: envmod.InstallPlan) -> None:
        super().__init__("Install / update geoprospect", QgsTask.CanCancel)
        self.plan = plan
        self.info: envmod.EnvInfo | None = None
        self.error = ""

    def run(self) -> bool:  # worker thread: no widgets here
        try:
            self.info = envmod.run_plan(self.plan, log=self.line.emit, progress=self.setProgress, cancelled=self.isCanceled)
        except envmod.runner.GeoprospectRunError as exc:
            self.error = str(exc)
            return False
        return True

    def finished(self, ok: bool) -> None:  # main thread
        if ok and self.info is not None:
            envmod.set_provider_interpreter(str(self.plan.python))
            msg = f"Installed: {self.info.summary()}. The geoprospect algorithms now run in it."
            warn = envmod.mismatch_message(self.info.geoprospect)
            self.done.emit(True, msg + (f"\n{warn}" if warn else ""))
        else:
            self.done.emit(False, self.error or "Cancelled.")


class ProbeTask(QgsTask):
    """Asks the configured interpreter for its geoprospect / torch / GPU (imports torch)."""

    answered = pyqtSignal(object)

    def __init__(self, python: str, gpu: bool = False) -> None:
        # quitting QGIS while it runs stops it without asking (no "Active Tasks" prompt)
        super().__init__("Checking the geoprospect environment", QgsTask.CancelWithoutPrompt | QgsTask.CanCancel)
        self.python, self.gpu = python, gpu
        self.info = envmod.EnvInfo()

    def run(self) -> bool:
        self.info = envmod.probe(self.python, gpu=self.gpu)
        return True

    def finished(self, ok: bool) -> None:
        self.answered.emit(self.info)


class EnvironmentPanel(QWidget):
    """Status of the configured environment and the Install / update button."""

    installed = pyqtSignal(bool, str)

    def __init__(self, parent=None, profile_dir: str | None = None) -> None:
        super().__init__(parent)
        self.task: InstallTask | None = None
        self.probe_task: ProbeTask | None = None
        self.env_info: envmod.EnvInfo | None = None
        layout = QVBoxLayout(self)
        self.status = QLabel("Checking the geoprospect environment…")
        self.status.setWordWrap(True)
        self.status.setObjectName("status")
        layout.addWidget(self.status)
        form = QFormLayout()
        self.python = QComboBox()
        self.python.setEditable(True)
        self.python.setObjectName("python")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_python)
        row = QHBoxLayout()
        row.addWidget(self.python, 1)
        row.addWidget(browse)
        form.addRow("Python ≥ 3.10 to build it from", row)
        self.env_dir = QLineEdit(str(envmod.default_env_dir(profile_dir)))
        self.env_dir.setObjectName("env_dir")
        form.addRow("Environment folder", self.env_dir)
        self.torch = QComboBox()
        for key, (label, _) in envmod.TORCH_CHOICES.items():
            self.torch.addItem(label, key)
        form.addRow("PyTorch build", self.torch)
        self.offline = QCheckBox("Offline: reuse that Python's installed packages (no downloads)")
        self.offline.setToolTip("Creates the environment with --system-site-packages and installs only the geoprospect wheel; "
                                "the chosen Python must already have geoprospect's dependencies (torch, rasterio…).")
        form.addRow("", self.offline)
        layout.addLayout(form)
        layout.addLayout(self._existing_row())
        wheel = envmod.bundled_wheel()
        self.wheel_label = QLabel(f"Wheel shipped with the plugin: {wheel.name}" if wheel else
                                  "No geoprospect wheel in this plugin (build the plugin with qgis_plugin/build_zip.py).")
        layout.addWidget(self.wheel_label)
        self.install_button = QPushButton("Install / update geoprospect")
        self.install_button.setObjectName("install")
        self.install_button.setEnabled(wheel is not None)
        self.install_button.clicked.connect(self.install)
        layout.addWidget(self.install_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        layout.addWidget(self.progress)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        layout.addWidget(self.log, 1)
        self.fill_pythons()
        self.existing.setText(executable_setting())
        self.refresh()

    def _existing_row(self) -> QHBoxLayout:
        """Use an existing geoprospect: its Python (or geoprospect executable), Browse…, Use."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Or use an existing geoprospect:"))
        self.existing = QLineEdit()
        self.existing.setObjectName("existing")
        self.existing.setPlaceholderText("its python, or its geoprospect executable")
        row.addWidget(self.existing, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse_into(self.existing, "geoprospect's Python or geoprospect executable"))
        row.addWidget(browse)
        self.use_button = QPushButton("Use it")
        self.use_button.setObjectName("use")
        self.use_button.clicked.connect(lambda: self.use_existing(self.existing.text().strip()))
        row.addWidget(self.use_button)
        self.gpu_button = QPushButton("Check the GPU")
        self.gpu_button.setToolTip("Asks torch for the GPU (imports torch: a few seconds).")
        self.gpu_button.clicked.connect(lambda: self.refresh(gpu=True))
        row.addWidget(self.gpu_button)
        return row

    def use_existing(self, path: str) -> ProbeTask | None:
        """Check ``path`` (a Python or a geoprospect executable) and name it in the provider's setting."""
        python = envmod.interpreter_of(path) if path else ""
        if not python or not os.path.isfile(python):
            return self._refuse(f"{path or 'Nothing given'}: pick the python (or the geoprospect executable) of an environment where geoprospect is installed.")
        self.status.setText(f"Checking {python}…")
        task = ProbeTask(python)
        task.answered.connect(lambda info: self._use_checked(path, info))
        self.probe_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    def _use_checked(self, path: str, info: envmod.EnvInfo) -> None:
        if not info.ok:
            self._refuse(f"{path}: {(info.error or 'geoprospect is not installed there').rstrip('.')}.")
            return
        envmod.set_provider_interpreter(path)
        self.show_info(info)
        self.installed.emit(True, f"Using {path}: {info.summary()}")

    # ---- status -----------------------------------------------------------------------
    def configured_python(self) -> str:
        return envmod.interpreter_of(executable_setting() or os.environ.get(envmod.runner.ENV_EXECUTABLE, ""))

    def refresh(self, gpu: bool = False) -> None:
        """Probe the configured environment in the background (gpu=True: ask torch for the GPU)."""
        python = self.configured_python()
        if not python:
            self.show_info(envmod.EnvInfo(error="No geoprospect environment is set"))
            return
        self.status.setText(f"Checking {python}…")
        self.probe_task = ProbeTask(python, gpu=gpu)
        self.probe_task.answered.connect(self.show_info)
        QgsApplication.taskManager().addTask(self.probe_task)

    def show_info(self, info: envmod.EnvInfo) -> None:
        self.env_info = info
        if info.ok:
            text = f"<b>Found:</b> {info.summary()}"
            warn = envmod.mismatch_message(info.geoprospect)
            if warn:
                text += f"<br><b>Version mismatch:</b> {warn}"
        else:
            text = f"<b>geoprospect is not ready:</b> {(info.error or 'not installed').rstrip('.')}.<br>Click <b>Install / update geoprospect</b> to create a private environment."
        self.status.setText(text)

    def fill_pythons(self) -> None:
        self.python.clear()
        for exe, (major, minor) in envmod.find_pythons():
            self.python.addItem(exe, exe)
            self.python.setItemData(self.python.count() - 1, f"Python {major}.{minor}", 3)  # Qt.ToolTipRole
        if self.python.count() == 0:
            self.python.setEditText("")
            self.log.appendPlainText("No Python >= 3.10 found on PATH: pick one with Browse….")

    def _browse_python(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python interpreter (3.10 or newer)")
        if path:
            self.python.setEditText(path)

    def _browse_into(self, field: QLineEdit, title: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title)
        if path:
            field.setText(path)

    # ---- install ----------------------------------------------------------------------
    def install(self) -> InstallTask | None:
        """Start creating / updating the environment; returns the task (None when refused)."""
        base = self.python.currentText().strip()
        wheel = envmod.bundled_wheel()
        version = envmod.python_version(base) if base else None
        if wheel is None:
            return self._refuse("This plugin has no geoprospect wheel inside: build it with `python qgis_plugin/build_zip.py`.")
        if version is None or version < envmod.MIN_PYTHON:
            return self._refuse(f"{base or 'No Python'}: pick a Python 3.10 or newer (Browse…).")
        offline = self.offline.isChecked()
        plan = envmod.install_plan(base, self.env_dir.text().strip(), wheel, self.torch.currentData(),
                                   system_site_packages=offline, offline=offline)
        self.log.clear()
        self.progress.setValue(0)
        self.install_button.setEnabled(False)
        self.task = InstallTask(plan)
        self.task.line.connect(self.log.appendPlainText)
        self.task.progressChanged.connect(lambda p: self.progress.setValue(int(p)))
        self.task.done.connect(self._installed)
        QgsApplication.taskManager().addTask(self.task)
        return self.task

    def _refuse(self, msg: str) -> None:
        self.status.setText(f"<b>Cannot install:</b> {msg}")
        self.installed.emit(False, msg)
        return None

    def _installed(self, ok: bool, msg: str) -> None:
        self.install_button.setEnabled(True)
        self.progress.setValue(100 if ok else self.progress.value())
        self.log.appendPlainText(msg)
        if ok:
            self.refresh()
        else:
            self.status.setText(f"<b>Install failed:</b> {msg}")
        self.installed.emit(ok, msg)


class EnvironmentDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("geoprospect environment")
        self.resize(720, 520)
        layout = QVBoxLayout(self)
        self.panel = EnvironmentPanel(self)
        layout.addWidget(self.panel)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def options_factory():
    """A 'geoprospect' page for Settings ▸ Options (None where qgis.gui lacks the API)."""
    try:
        from qgis.gui import QgsOptionsPageWidget, QgsOptionsWidgetFactory
    except ImportError:  # pragma: no cover
        return None
    from qgis.PyQt.QtGui import QIcon

    from .provider import PLUGIN_DIR

    class Page(QgsOptionsPageWidget):
        def __init__(self, parent=None) -> None:
            super().__init__(parent)
            layout = QVBoxLayout(self)
            layout.setContentsMargins(0, 0, 0, 0)
            self.panel = EnvironmentPanel(self)
            layout.addWidget(self.panel)

        def apply(self) -> None:
            pass

    class Factory(QgsOptionsWidgetFactory):
        def __init__(self) -> None:
            super().__init__("geoprospect", QIcon(str(PLUGIN_DIR / "icon.svg")))

        def path(self):
            return ["Processing"]

        def createWidget(self, parent):  # noqa: N802
            return Page(parent)

    return Factory()
