<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.40" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" classificationMin="0" classificationMax="1" nodataColor="">
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="0" maximumValue="1" labelPrecision="2">
            <item alpha="255" value="0.0" label="0.0" color="#2c7bb6"/>
            <item alpha="255" value="0.25" label="0.25" color="#abd9e9"/>
            <item alpha="255" value="0.5" label="0.5" color="#ffffbf"/>
            <item alpha="255" value="0.75" label="0.75" color="#fdae61"/>
            <item alpha="255" value="1.0" label="1.0" color="#d7191c"/>
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
