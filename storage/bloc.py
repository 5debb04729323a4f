"""The bloc, its departments and units, synchronised from the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import Bloc, BlocYear, Department, Unit, utcnow


@dataclass(frozen=True)
class DepartmentSpec:
    """A department as the bloc's settings describe it."""

    code: str
    name: str


@dataclass(frozen=True)
class UnitSpec:
    """A member unit as the bloc's settings describe it."""

    code: str
    name: str
    department: str
    short_name: str = ""


@dataclass(frozen=True)
class BlocSpec:
    """What `sync_bloc` makes the database hold (storage's own type, so storage does not
    depend on how the configuration is read)."""

    name: str
    year: int
    timezone: str
    leader: str
    deputy: str
    departments: tuple[DepartmentSpec, ...]
    units: tuple[UnitSpec, ...]


@dataclass
class SyncReport:
    """What `sync_bloc` changed."""

    added: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    departments_added: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return any(getattr(self, name) for name in self.__dataclass_fields__)


async def sync_bloc(*, session: AsyncSession, bloc_config: BlocSpec) -> SyncReport:
    """Makes the database's bloc, departments, units and year match the config.

    Idempotent. Units missing from the config are retired, not deleted, so their contacts
    and history stay; a unit that comes back is restored.
    """
    report = SyncReport()
    bloc = (await session.exec(select(Bloc))).first()
    if bloc is None:
        bloc = Bloc(
            name=bloc_config.name, timezone=bloc_config.timezone, current_year=bloc_config.year
        )
        session.add(bloc)
        await session.flush()
    else:
        bloc.name = bloc_config.name
        bloc.timezone = bloc_config.timezone
        bloc.current_year = bloc_config.year
        bloc.updated_at = utcnow()
    assert bloc.id is not None

    departments = {d.code: d for d in (await session.exec(select(Department))).all()}
    for dept_cfg in bloc_config.departments:
        dept = departments.get(dept_cfg.code)
        if dept is None:
            dept = Department(bloc_id=bloc.id, code=dept_cfg.code, name=dept_cfg.name)
            session.add(dept)
            departments[dept.code] = dept
            report.departments_added.append(dept_cfg.code)
        dept.name, dept.active = dept_cfg.name, True
    configured_depts = {d.code for d in bloc_config.departments}
    for code, dept in departments.items():
        if code not in configured_depts:
            dept.active = False
    await session.flush()

    units = {u.code: u for u in (await session.exec(select(Unit))).all()}
    now = utcnow()
    for position, unit_cfg in enumerate(bloc_config.units):
        dept_id = departments[unit_cfg.department].id
        assert dept_id is not None
        unit = units.get(unit_cfg.code)
        if unit is None:
            unit = Unit(
                department_id=dept_id,
                code=unit_cfg.code,
                name=unit_cfg.name,
                short_name=unit_cfg.short_name,
                position=position,
            )
            session.add(unit)
            units[unit.code] = unit
            report.added.append(unit_cfg.code)
            continue
        if unit.name != unit_cfg.name:
            report.renamed.append(unit_cfg.code)
            unit.name = unit_cfg.name
        if unit.department_id != dept_id:
            report.moved.append(unit_cfg.code)
            unit.department_id = dept_id
        if not unit.active:
            report.restored.append(unit_cfg.code)
            unit.active, unit.retired_at = True, None
        unit.short_name, unit.position = unit_cfg.short_name, position
    configured_units = {u.code for u in bloc_config.units}
    for code, unit in units.items():
        if code not in configured_units and unit.active:
            unit.active, unit.retired_at = False, now
            report.retired.append(code)
    await session.flush()

    year = (await session.exec(select(BlocYear).where(BlocYear.year == bloc_config.year))).first()
    if year is None:
        year = BlocYear(bloc_id=bloc.id, year=bloc_config.year)
        session.add(year)
    year.leader_unit_id = units[bloc_config.leader].id
    year.deputy_unit_id = units[bloc_config.deputy].id

    if report.changed:
        await audit.record(
            session=session,
            action="bloc.sync",
            target=bloc_config.name,
            added=report.added,
            renamed=report.renamed,
            moved=report.moved,
            retired=report.retired,
            restored=report.restored,
        )
    return report


async def get_bloc(*, session: AsyncSession) -> Bloc | None:
    """The bloc, or None before `thidua init`."""
    return (await session.exec(select(Bloc))).first()


async def get_year(*, session: AsyncSession, year: int) -> BlocYear | None:
    """The leader and deputy of a year."""
    return (await session.exec(select(BlocYear).where(BlocYear.year == year))).first()


async def list_units(*, session: AsyncSession, active_only: bool = True) -> list[Unit]:
    """Units in department then configured order."""
    query = select(Unit).join(Department).order_by(col(Department.id), col(Unit.position))
    if active_only:
        query = query.where(col(Unit.active).is_(True))
    return list((await session.exec(query)).all())


async def list_departments(*, session: AsyncSession, active_only: bool = True) -> list[Department]:
    """Departments in configured order."""
    query = select(Department).order_by(col(Department.id))
    if active_only:
        query = query.where(col(Department.active).is_(True))
    return list((await session.exec(query)).all())


async def get_unit(*, session: AsyncSession, unit_id: int) -> Unit | None:
    """A unit by id."""
    return await session.get(Unit, unit_id)


async def get_unit_by_code(*, session: AsyncSession, code: str) -> Unit | None:
    """A unit by its code (case-insensitive)."""
    query = select(Unit).where(col(Unit.code).ilike(code.strip()))
    return (await session.exec(query)).first()
