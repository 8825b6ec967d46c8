"""The analytics service: FastAPI app, and the lifespan hook that starts its consumers and refresher."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI

from emms_analytics.api.routes_combined import router as combined_router
from emms_analytics.api.routes_electricity import router as electricity_router
from emms_analytics.api.routes_exports import router as exports_router
from emms_analytics.api.routes_heat import router as heat_router
from emms_analytics.api.routes_key_customers import router as key_customers_router
from emms_analytics.api.routes_loss import router as loss_router
from emms_analytics.api.routes_loss import service as loss_service
from emms_analytics.api.routes_quality import router as quality_router
from emms_analytics.api.routes_supply_quality import router as supply_quality_router
from emms_analytics.api.routes_usage import router as usage_router
from emms_analytics.exports.database import ExportDatabase
from emms_analytics.keycustomers import anomalies, chosen, terminals
from emms_analytics.runtime import MASTERDATA_TOPIC, SCHEMA, VALIDATED_TOPIC, AnalyticsRuntime
from emms_analytics.settings import AnalyticsSettings
from emms_analytics.tariffs import store as tariff_store
from emms_db.storage_mode import StorageMode
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None
    settings = rt.settings
    assert isinstance(settings, AnalyticsSettings)
    ar = AnalyticsRuntime(settings, rt.pool, rt.storage_mode or StorageMode.POSTGRESQL,
                          exports=ExportDatabase(settings.database.url))
    await ar.check_calendar()
    rt.state = ar
    rt.add_consumer("analytics-masterdata", [MASTERDATA_TOPIC], ar.handle_masterdata)
    rt.add_consumer("analytics-validated", [VALIDATED_TOPIC], ar.handle_validated,
                    max_batch=settings.consumer_max_batch)
    rt.add_consumer("analytics-anomalies", [anomalies.ANOMALY_TOPIC], partial(anomalies.store, rt.pool, SCHEMA))
    rt.add_consumer("analytics-terminals", [terminals.SESSION_TOPIC], partial(terminals.store, rt.pool, SCHEMA))
    rt.add_consumer("analytics-tariffs", [tariff_store.TARIFF_TOPIC], partial(tariff_store.store, rt.pool, SCHEMA))
    rt.add_worker("rollup-refresh", ar.run_refresher)
    rt.add_worker("inbox-purge", ar.run_purge)
    rt.add_worker("loss-topology", loss_service(ar).run_topology)
    rt.add_worker("loss-daily", loss_service(ar).run_daily)
    rt.add_worker("key-customers-by-rule", partial(chosen.run, ar))


SPEC = ServiceSpec(
    name="analytics",
    title="EMMS analytics",
    description="Usage statistics and analyses of the four utilities from rollups of validated readings.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(usage_router, electricity_router, combined_router, quality_router, heat_router, key_customers_router,
             exports_router, supply_quality_router, loss_router),
    setup=setup,
)


def create_app(settings: AnalyticsSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
