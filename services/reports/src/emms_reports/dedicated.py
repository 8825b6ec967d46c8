"""The reports shipped with the system: definitions like any designed report, under fixed names."""

from __future__ import annotations

from emms_reports.definition import ReportDefinition

SIGN = ["制表 Prepared by", "审核 Checked by", "批准 Approved by"]

DEDICATED: dict[str, ReportDefinition] = {
    "daily-collection": ReportDefinition.model_validate({
        "title": "日采集报表 Daily collection report", "dataset": "usage", "dimensions": ["metering_point"],
        "interval": "day", "period": {"kind": "previous_day"},
        "columns": [{"field": "bucket", "label": "日期 Day", "format": "date"},
                    {"field": "key", "label": "计量点 Metering point", "total": "count"},
                    {"field": "item", "label": "数据项 Item"},
                    {"field": "intervals", "label": "采集区间 Collected", "format": "integer", "total": "sum"},
                    {"field": "estimated", "label": "估算区间 Estimated", "format": "integer", "total": "sum"},
                    {"field": "usage", "label": "用量 Usage", "format": "decimal2", "total": "sum"}],
        "signature": SIGN}),
    "monthly-usage": ReportDefinition.model_validate({
        "title": "月度用量报表（按区域、类别）Monthly usage by region and category", "dataset": "usage",
        "dimensions": ["region", "category"], "interval": "month", "period": {"kind": "previous_month"},
        "columns": [{"field": "dimension", "label": "维度 Dimension"},
                    {"field": "key", "label": "区域/类别 Region / category"},
                    {"field": "bucket", "label": "月份 Month", "format": "date"},
                    {"field": "metering_points", "label": "计量点数 Points", "format": "integer"},
                    {"field": "usage", "label": "用量 Usage", "format": "decimal2", "total": "sum"}],
        "group_by": ["dimension"], "layout": {"orientation": "landscape"}, "signature": SIGN}),
    "abnormal-meters": ReportDefinition.model_validate({
        "title": "异常表计清单 Abnormal meters", "dataset": "anomalies", "period": {"kind": "previous_day"},
        "columns": [{"field": "data_time", "label": "数据时间 Data time", "format": "datetime"},
                    {"field": "meter_id", "label": "表计 Meter", "total": "count"},
                    {"field": "metering_point_id", "label": "计量点 Point"},
                    {"field": "rule", "label": "规则 Rule"},
                    {"field": "item", "label": "数据项 Item"},
                    {"field": "severity", "label": "严重程度 Severity"}],
        "group_by": ["severity"], "layout": {"orientation": "landscape"}, "signature": SIGN}),
    "loss": ReportDefinition.model_validate({
        "title": "线损报表 Loss report", "dataset": "loss", "dimensions": ["model"], "interval": "month",
        "period": {"kind": "previous_month"},
        "columns": [{"field": "key", "label": "模型 Model"},
                    {"field": "bucket", "label": "月份 Month", "format": "date"},
                    {"field": "input", "label": "供入 Input", "format": "decimal2", "total": "sum"},
                    {"field": "output", "label": "售出 Output", "format": "decimal2", "total": "sum"},
                    {"field": "loss", "label": "损耗 Loss", "format": "decimal2", "total": "sum"},
                    {"field": "rate", "label": "损耗率 Loss rate", "format": "percent"},
                    {"field": "complete", "label": "完整 Complete"},
                    {"field": "reason", "label": "原因 Reason"}],
        "layout": {"orientation": "landscape"}, "signature": SIGN}),
    "events": ReportDefinition.model_validate({
        "title": "事件报表 Event report", "dataset": "events", "period": {"kind": "previous_day"},
        "columns": [{"field": "occurred_at", "label": "发生时间 Occurred", "format": "datetime"},
                    {"field": "terminal", "label": "终端 Terminal"},
                    {"field": "meter_id", "label": "表计 Meter"},
                    {"field": "code", "label": "事件代码 Code", "total": "count"},
                    {"field": "event_class", "label": "等级 Class"},
                    {"field": "received_at", "label": "接收时间 Received", "format": "datetime"}],
        "group_by": ["event_class"], "layout": {"orientation": "landscape"}, "signature": SIGN}),
}
